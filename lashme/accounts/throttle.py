"""Short-term rate limits on costly actions (``limits``, moving windows in Redis).

Used where one scripted client could otherwise exhaust a shared resource,
e.g. creating Stripe Checkout Sessions (Stripe rate-limits the whole account).
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from lashme.errors import DomainError
from lashme.jobs.queue import redis_url

NAMESPACE = "lashme-throttle"


class Throttled(DomainError):
    """Too many attempts of one action; ``params['minutes']`` says when to try again."""


@lru_cache(maxsize=4)
def _limiter(url: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage_from_string(url))


def hit(action: str, identity: str, rate: str, *, url: str | None = None) -> None:
    """Count one ``action`` by ``identity`` against ``rate`` (e.g. ``"10/hour"``, limits' notation).

    Raises:
        Throttled: ``throttle.too_many`` with ``minutes`` until a slot frees up; nothing is counted.
    """
    limiter = _limiter(url or redis_url())
    parsed = parse(rate)
    item = type(parsed)(parsed.amount, parsed.multiples, namespace=NAMESPACE)
    if not limiter.hit(item, action, identity):
        reset = limiter.get_window_stats(item, action, identity).reset_time
        raise Throttled("throttle.too_many", minutes=max(1, math.ceil((reset - time.time()) / 60)))
