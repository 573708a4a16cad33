"""Daily free-generation limits, counted in Redis with the ``limits`` library.

Visitors get ``daily_limit_anon`` jobs per UTC day, counted both per client
IP and per browser token (clearing cookies does not reset it, and one IP
cannot farm tokens); signed-in users get ``daily_limit_user`` jobs per day.
Windows are ``limits``' fixed windows of one day, which start at 00:00 UTC.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItemPerDay
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from lashme.errors import DomainError
from lashme.queue import redis_url

log = logging.getLogger(__name__)
NAMESPACE = "lashme-daily-jobs"


class DailyLimitReached(DomainError):
    """The caller used up today's jobs; ``params`` carry ``limit`` and when it resets."""


@dataclass(frozen=True)
class Usage:
    """Jobs counted today for one identity: ``used`` of ``limit``; ``reset_at`` is epoch seconds."""

    used: int
    limit: int
    reset_at: float


@lru_cache(maxsize=4)
def _limiter(url: str) -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(storage_from_string(url))


def _identities(user_id: int | None, anon_token: str | None, client_ip: str | None) -> list[tuple[str, str]]:
    if user_id is not None:
        return [("user", str(user_id))]
    ids = []
    if anon_token:
        ids.append(("browser", hashlib.sha256(anon_token.encode()).hexdigest()[:32]))
    if client_ip:
        ids.append(("ip", client_ip))
    return ids


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
    limiter = _limiter(url or redis_url())
    item = RateLimitItemPerDay(max(0, limit), namespace=NAMESPACE)
    now = time.time()
    stats = [limiter.get_window_stats(item, kind, value) for kind, value in ids]
    if limit <= 0 or not all(limiter.test(item, kind, value) for kind, value in ids):
        reset_at = max(st.reset_time for st in stats)
        raise DailyLimitReached(
            "limits.daily_reached", limit=limit, resets_in=_resets_in(reset_at, now), resets_at="00:00 UTC"
        )
    for kind, value in ids:
        limiter.hit(item, kind, value)
    tightest = min(stats, key=lambda st: st.remaining)
    return Usage(used=limit - tightest.remaining + 1, limit=limit, reset_at=tightest.reset_time)


def usage(
    *, user_id: int | None, anon_token: str | None, client_ip: str | None, limit: int, url: str | None = None
) -> Usage:
    """Today's usage without counting anything (for "2 of 3 free photos left" hints)."""
    ids = _identities(user_id, anon_token, client_ip)
    limiter = _limiter(url or redis_url())
    item = RateLimitItemPerDay(max(1, limit), namespace=NAMESPACE)
    stats = [limiter.get_window_stats(item, kind, value) for kind, value in ids] or None
    if not stats:
        return Usage(0, limit, time.time())
    tightest = min(stats, key=lambda st: st.remaining)
    return Usage(used=max(0, limit - tightest.remaining), limit=limit, reset_at=tightest.reset_time)
