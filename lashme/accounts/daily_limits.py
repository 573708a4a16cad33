"""Daily free-generation limits, counted in Redis with the ``limits`` library.

Visitors get ``daily_limit_anon`` jobs per UTC day, counted both per client
IP and per browser token (clearing cookies does not reset it, and one IP
cannot farm tokens); signed-in users get ``daily_limit_user`` jobs per day.

Each counter is a ``limits`` fixed-window counter whose identifier includes
the UTC date, so a new count starts at 00:00 UTC.  ``hit`` is an atomic
``INCR`` in Redis and its answer decides, so parallel uploads cannot slip
past the limit.  IPs and browser tokens are hashed before they become keys.
Changing a limit starts fresh counters (the amount is part of the key).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from functools import lru_cache

from limits import RateLimitItemPerDay
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from lashme.errors import DomainError
from lashme.jobs.queue import redis_url

log = logging.getLogger(__name__)
NAMESPACE = "lashme-daily-jobs"


class DailyLimitReached(DomainError):
    """The caller used up today's jobs; ``params`` carry ``limit`` and when it resets."""


@dataclass(frozen=True)
class Usage:
    """Jobs counted today for the tightest identity: ``used`` of ``limit``.

    ``reset_at`` is the next 00:00 UTC in epoch seconds.
    """

    used: int
    limit: int
    reset_at: float


@lru_cache(maxsize=4)
def _limiter(url: str) -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(storage_from_string(url))


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _identities(user_id: int | None, anon_token: str | None, client_ip: str | None) -> list[tuple[str, str]]:
    if user_id is not None:
        return [("user", str(user_id))]
    ids = []
    if anon_token:
        ids.append(("browser", _hash(anon_token)))
    if client_ip:
        ids.append(("ip", _hash(client_ip)))
    return ids


def _today(now: float) -> tuple[str, float]:
    """The UTC date as ``YYYY-MM-DD`` and the epoch second of the next 00:00 UTC."""
    day = datetime.fromtimestamp(now, UTC).date()
    midnight = datetime.combine(day + timedelta(days=1), dt_time.min, tzinfo=UTC)
    return day.isoformat(), midnight.timestamp()


def _resets_in(reset_at: float, now: float) -> str:
    minutes = max(1, int((reset_at - now + 59) // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def consume(
    *, user_id: int | None, anon_token: str | None, client_ip: str | None, limit: int, url: str | None = None
) -> Usage:
    """Count one job against today's limit, or refuse it.

    Args:
        user_id: the signed-in user, or None for a visitor.
        anon_token: the visitor's browser token (hashed before use as a key).
        client_ip: the visitor's IP address as the server saw it.
        limit: jobs allowed per UTC day for this kind of caller.
        url: Redis URL (default ``REDIS_URL``).

    Returns:
        Today's usage after counting this job (the tightest identity).

    Raises:
        DailyLimitReached: ``limits.daily_reached`` with ``limit``, ``resets_in``
            (e.g. ``"5 h 12 min"``) and ``resets_at`` (``"00:00 UTC"``); nothing is counted.
        ValueError: no identity at all.
    """
    ids = _identities(user_id, anon_token, client_ip)
    if not ids:
        raise ValueError("a job needs a user, a browser token or an IP")
    now = time.time()
    day, reset_at = _today(now)
    refused = DailyLimitReached(
        "limits.daily_reached", limit=limit, resets_in=_resets_in(reset_at, now), resets_at="00:00 UTC"
    )
    if limit <= 0:
        raise refused
    limiter = _limiter(url or redis_url())
    item = RateLimitItemPerDay(limit, namespace=NAMESPACE)
    # test first so a refused upload does not use up another identity's allowance ...
    if not all(limiter.test(item, kind, value, day) for kind, value in ids):
        raise refused
    # ... then count atomically: each hit is one INCR and its answer is final under races
    if not all([limiter.hit(item, kind, value, day) for kind, value in ids]):
        raise refused
    remaining = min(limiter.get_window_stats(item, kind, value, day).remaining for kind, value in ids)
    return Usage(used=limit - remaining, limit=limit, reset_at=reset_at)


def usage(
    *, user_id: int | None, anon_token: str | None, client_ip: str | None, limit: int, url: str | None = None
) -> Usage:
    """Today's usage without counting anything (for "2 of 3 free photos left" hints)."""
    ids = _identities(user_id, anon_token, client_ip)
    day, reset_at = _today(time.time())
    if not ids or limit <= 0:
        return Usage(0, limit, reset_at)
    limiter = _limiter(url or redis_url())
    item = RateLimitItemPerDay(limit, namespace=NAMESPACE)
    remaining = min(limiter.get_window_stats(item, kind, value, day).remaining for kind, value in ids)
    return Usage(used=max(0, limit - remaining), limit=limit, reset_at=reset_at)
