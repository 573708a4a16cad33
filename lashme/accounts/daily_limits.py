"""Daily free-generation limits, counted in Redis with the ``limits`` library.

Visitors get ``daily_limit_anon`` jobs per UTC day per browser token, and all
visitors behind one IP address together get at most ``daily_limit_anon_ip``
(a higher cap, so a salon's shared Wi-Fi serves several masters while one IP
still cannot farm tokens; never below the per-browser limit).  Signed-in users
get ``daily_limit_user`` jobs per day.

A refusal carries the reset moment as :class:`ResetsIn`, which each client
reads in its own language (Babel ``format_timedelta``: "через 4 ч 49 мин",
"in 4 hr 49 min"), so the time is right in every time zone; a client that
knows the reader's IANA time zone (the browser's) adds the local clock time
(:meth:`ResetsIn.in_time_zone`: "в 03:00 (через 4 ч 49 мин)").

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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_time
from limits import RateLimitItemPerDay
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from lashme import i18n
from lashme.errors import DomainError
from lashme.jobs.queue import redis_url

log = logging.getLogger(__name__)
NAMESPACE = "lashme-daily-jobs"


class DailyLimitReached(DomainError):
    """The caller used up today's jobs; ``params`` carry ``limit`` and ``resets_in`` (:class:`ResetsIn`)."""


@dataclass(frozen=True)
class ResetsIn:
    """Time until the daily limit resets, said in the reader's language (a message parameter).

    Attributes:
        seconds: seconds until the next 00:00 UTC.
        at: that moment, epoch seconds (0 = unknown: only the duration is said).
        time_zone: the reader's IANA time zone ("" = unknown: only the duration is said).
    """

    seconds: float
    at: float = 0.0
    time_zone: str = ""

    def in_time_zone(self, time_zone: str | None) -> ResetsIn:
        """This moment for a reader in ``time_zone`` (an IANA name); unchanged when it is not a known zone."""
        name = (time_zone or "").strip()[:64]
        if not name or not self.at or _zone(name) is None:
            return self
        return ResetsIn(self.seconds, self.at, name)

    def localize(self, locale: str | None) -> str:
        """``"через 4 ч 49 мин"`` / ``"in 4 hr 49 min"`` (rounded up to the minute, ``i18n.format_duration``).

        With a time zone: ``"в 03:00 (через 4 ч 49 мин)"`` / ``"at 3:00 AM (in 4 hr 49 min)"``,
        the clock time in the locale's short format (Babel ``format_time``, CLDR).
        """
        duration = i18n.format_duration(max(1, int((self.seconds + 59) // 60)) * 60, locale)
        zone = _zone(self.time_zone) if self.time_zone and self.at else None
        if zone is None:
            return i18n.translate("limits.resets_in", locale, duration=duration)
        moment = datetime.fromtimestamp(round(self.at / 60) * 60, UTC)
        clock = format_time(moment, format="short", tzinfo=zone, locale=i18n.babel_locale(locale))
        return i18n.translate("limits.resets_at", locale, time=clock, duration=duration)

    def __str__(self) -> str:
        return self.localize("en")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo | None:
    """The IANA time zone ``name``, or None when it is not one (browser input: validated here)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


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


def _identities(
    user_id: int | None, anon_token: str | None, client_ip: str | None, limit: int, ip_limit: int | None
) -> list[tuple[int, str, str]]:
    """``(limit, kind, hashed id)`` of every counter one job is counted on."""
    if user_id is not None:
        return [(limit, "user", str(user_id))]
    ids = []
    if anon_token:
        ids.append((limit, "browser", _hash(anon_token)))
    if client_ip:
        ids.append((max(limit, ip_limit or 0), "ip", _hash(client_ip)))
    return ids


def refusal(limit: int, reset_at: float | None = None, now: float | None = None) -> DailyLimitReached:
    """The ``limits.daily_reached`` error for ``limit``, resetting at ``reset_at`` (next UTC day)."""
    now = time.time() if now is None else now
    reset_at = _today(now)[1] if reset_at is None else reset_at
    return DailyLimitReached(
        "limits.daily_reached", limit=limit, resets_in=ResetsIn(max(0.0, reset_at - now), reset_at)
    )


def _today(now: float) -> tuple[str, float]:
    """The UTC date as ``YYYY-MM-DD`` and the epoch second of the next 00:00 UTC."""
    day = datetime.fromtimestamp(now, UTC).date()
    midnight = datetime.combine(day + timedelta(days=1), dt_time.min, tzinfo=UTC)
    return day.isoformat(), midnight.timestamp()


def consume(
    *,
    user_id: int | None,
    anon_token: str | None,
    client_ip: str | None,
    limit: int,
    ip_limit: int | None = None,
    url: str | None = None,
) -> Usage:
    """Count one job against today's limits, or refuse it.

    Args:
        user_id: the signed-in user, or None for a visitor.
        anon_token: the visitor's browser token (hashed before use as a key).
        client_ip: the visitor's IP address as the server saw it.
        limit: jobs allowed per UTC day for this kind of caller (per browser for visitors).
        ip_limit: visitors only: jobs allowed per UTC day for all browsers behind ``client_ip``
            (``daily_limit_anon_ip``); never below ``limit``; None means ``limit``.
        url: Redis URL (default ``REDIS_URL``).

    Returns:
        Today's usage after counting this job (the tightest identity).

    Raises:
        DailyLimitReached: ``limits.daily_reached`` with ``limit`` (the one that ran out) and
            ``resets_in`` (:class:`ResetsIn`); nothing is counted (a counter that passed while
            another one was refused under a race is given its hit back).
        ValueError: no identity at all.
    """
    ids = _identities(user_id, anon_token, client_ip, limit, ip_limit)
    if not ids:
        raise ValueError("a job needs a user, a browser token or an IP")
    now = time.time()
    day, reset_at = _today(now)
    if limit <= 0:
        raise refusal(limit, reset_at, now)
    limiter = _limiter(url or redis_url())

    def item(n: int) -> RateLimitItemPerDay:
        return RateLimitItemPerDay(n, namespace=NAMESPACE)

    # test first so a refused upload does not use up another identity's allowance ...
    for n, kind, value in ids:
        if not limiter.test(item(n), kind, value, day):
            raise refusal(n, reset_at, now)
    # ... then count atomically: each hit is one INCR and its answer is final under races
    hits = [(n, limiter.hit(item(n), kind, value, day)) for n, kind, value in ids]
    refused = [n for n, ok in hits if not ok]
    if refused:
        # a race lost on one counter (a salon's IP cap): no job, so no counter keeps its hit,
        # neither the browser's that passed nor the refused one that went over
        for n, kind, value in ids:
            limiter.storage.incr(item(n).key_for(kind, value, day), item(n).get_expiry(), amount=-1)
        raise refusal(refused[0], reset_at, now)
    return _tightest(limiter, ids, day, reset_at)


def _tightest(
    limiter: FixedWindowRateLimiter, ids: list[tuple[int, str, str]], day: str, reset_at: float
) -> Usage:
    """The usage of the counter with the fewest jobs left."""
    stats = [
        (limiter.get_window_stats(RateLimitItemPerDay(n, namespace=NAMESPACE), kind, value, day).remaining, n)
        for n, kind, value in ids
    ]
    remaining, n = min(stats)
    return Usage(used=max(0, n - remaining), limit=n, reset_at=reset_at)


def usage(
    *,
    user_id: int | None,
    anon_token: str | None,
    client_ip: str | None,
    limit: int,
    ip_limit: int | None = None,
    url: str | None = None,
) -> Usage:
    """Today's usage without counting anything (for "2 of 3 free photos left" hints)."""
    ids = _identities(user_id, anon_token, client_ip, limit, ip_limit)
    day, reset_at = _today(time.time())
    if not ids or limit <= 0:
        return Usage(0, limit, reset_at)
    return _tightest(_limiter(url or redis_url()), ids, day, reset_at)
