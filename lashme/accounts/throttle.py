"""Short-term rate limits on costly or abusable actions (``limits``, moving windows in Redis).

Used where one scripted client could otherwise exhaust a shared resource or
guess a secret: Stripe Checkout Sessions (Stripe rate-limits the whole
account), sign-in (password hashing costs ~0.4 s of a core, and guessing),
sign-up (free credits), password-reset requests and uploads.

Every check *counts first* (``MovingWindowRateLimiter.hit``, one atomic Lua
script in Redis) and only then lets the costly work run, so parallel requests
cannot slip past a limit.  Identities (emails, IPs) are hashed before they
become keys.

Redis outage: counting falls back to a per-process in-memory limiter (the
same rates, counted per app server instead of across all of them), so a Redis
outage neither opens the door to unlimited guessing nor locks everyone out.

Rates (``limits`` notation, see https://limits.readthedocs.io/en/stable/quickstart.html#rate-limit-string-notation):

- sign-in per account: :data:`SIGN_IN_ACCOUNT_RATE` attempts; a successful
  sign-in clears the account's count, so the lock only bites after repeated
  failures (a temporary lock: the oldest attempt leaves the window after
  15 minutes);
- sign-in per IP: :data:`SIGN_IN_IP_RATE`;
- sign-up per IP: :data:`SIGN_UP_IP_RATE`;
- password-reset requests: :data:`RESET_ACCOUNT_RATE` per account, :data:`RESET_IP_RATE` per IP;
- uploads per IP and per visitor token: :data:`UPLOAD_RATE` (checked by the
  backend middleware before the body is read, :mod:`lashme.ops.http`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from lashme.errors import DomainError, Throttled  # noqa: F401 - Throttled is re-exported
from lashme.jobs.queue import redis_url

log = logging.getLogger(__name__)
NAMESPACE = "lashme-throttle"

#: sign-in attempts per account (failures; a success clears the count) before a temporary lock
SIGN_IN_ACCOUNT_RATE = "10/15 minutes"
#: sign-in attempts per client IP (every attempt costs a password hash)
SIGN_IN_IP_RATE = "20/minute;100/hour"
#: accounts created per client IP (each one gets free credits)
SIGN_UP_IP_RATE = "3/hour;10/day"
#: password-reset requests per account and per IP
RESET_ACCOUNT_RATE = "3/hour"
RESET_IP_RATE = "10/hour"
#: uploads per client IP and per visitor token, before the body is read
UPLOAD_RATE = os.environ.get("LASHME_UPLOAD_RATE", "30/minute;300/hour")


@lru_cache(maxsize=4)
def _limiter(url: str) -> MovingWindowRateLimiter:
    # short timeouts: a hung Redis must not hold a request (the memory fallback answers instead)
    storage = storage_from_string(url, wrap_exceptions=True, socket_timeout=1.0, socket_connect_timeout=1.0)
    return MovingWindowRateLimiter(storage)


@lru_cache(maxsize=1)
def _fallback() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(MemoryStorage())


def _items(rate: str) -> list[RateLimitItem]:
    return [type(p)(p.amount, p.multiples, namespace=NAMESPACE) for p in parse_many(rate)]


def key(value: str) -> str:
    """A short SHA-256 of an identity (email, IP, token) for use in counter keys."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _call(url: str | None, method: str, *args):
    """``limiter.method(*args)`` on Redis, else on the in-process fallback (logged)."""
    try:
        return getattr(_limiter(url or redis_url()), method)(*args)
    except StorageError as exc:
        log.warning(
            "throttle storage unavailable, counting in this process: %s", type(exc.storage_error).__name__
        )
        return getattr(_fallback(), method)(*args)


def _minutes_until_free(url: str | None, item: RateLimitItem, action: str, identity: str) -> int:
    reset = _call(url, "get_window_stats", item, action, identity).reset_time
    return max(1, math.ceil((reset - time.time()) / 60))


def hit(action: str, identity: str, rate: str, *, url: str | None = None, message: str | None = None) -> None:
    """Count one ``action`` by ``identity`` against ``rate`` (e.g. ``"10/hour"``, limits' notation).

    ``rate`` may hold several limits separated by ``;`` (``"20/minute;100/hour"``); the
    attempt is counted against each and refused when any is used up.

    Args:
        action: what is counted (part of the key), e.g. ``"signin-ip"``.
        identity: who (a user id or a :func:`key` of an email/IP).
        rate: the allowance in limits' notation.
        url: Redis URL (default ``REDIS_URL``).
        message: catalog key of the refusal (default ``throttle.too_many``).

    Raises:
        Throttled: ``message`` with ``minutes`` until a slot frees up.
    """
    for item in _items(rate):
        if not _call(url, "hit", item, action, identity):
            minutes = _minutes_until_free(url, item, action, identity)
            log.info("throttled %s (%s)", action, rate)
            raise Throttled(message or "throttle.too_many", minutes=minutes)


def clear(action: str, identity: str, rate: str, *, url: str | None = None) -> None:
    """Forget the counts of ``action`` by ``identity`` (e.g. after a successful sign-in)."""
    for item in _items(rate):
        _call(url, "clear", item, action, identity)
        _fallback().clear(item, action, identity)


def sign_in_attempt(email: str, ip: str | None = None, *, url: str | None = None) -> None:
    """Count one sign-in attempt, before the password hash is computed.

    Args:
        email: the normalised address typed (known or not: both are counted alike).
        ip: the caller's IP, when the client knows it.
        url: Redis URL (default ``REDIS_URL``).

    Raises:
        Throttled: ``security.signin_ip_throttled`` (too many attempts from this IP) or
            ``security.signin_locked`` (too many failed attempts for this account), with ``minutes``.
    """
    if ip:
        hit("signin-ip", key(ip), SIGN_IN_IP_RATE, url=url, message="security.signin_ip_throttled")
    hit("signin-account", key(email), SIGN_IN_ACCOUNT_RATE, url=url, message="security.signin_locked")


def sign_in_succeeded(email: str, *, url: str | None = None) -> None:
    """Clear the account's failed-attempt count after a correct password."""
    clear("signin-account", key(email), SIGN_IN_ACCOUNT_RATE, url=url)


def sign_up_attempt(ip: str | None, *, url: str | None = None) -> None:
    """Count one account creation from ``ip`` (nothing when the IP is unknown).

    Raises:
        Throttled: ``security.signup_throttled`` with ``minutes``.
    """
    if ip:
        hit("signup-ip", key(ip), SIGN_UP_IP_RATE, url=url, message="security.signup_throttled")


def password_reset_requested(email: str, ip: str | None = None, *, url: str | None = None) -> None:
    """Count one password-reset request for ``email`` (and from ``ip``); call it before sending mail.

    Raises:
        Throttled: ``security.reset_throttled`` with ``minutes``.
    """
    if ip:
        hit("reset-ip", key(ip), RESET_IP_RATE, url=url, message="security.reset_throttled")
    hit("reset-account", key(email), RESET_ACCOUNT_RATE, url=url, message="security.reset_throttled")


def upload_attempt(ip: str | None, visitor: str | None = None, *, url: str | None = None) -> None:
    """Count one upload request by IP and by visitor/session token, before its body is read.

    Raises:
        Throttled: ``security.upload_throttled`` with ``minutes``.
    """
    if ip:
        hit("upload-ip", key(ip), UPLOAD_RATE, url=url, message="security.upload_throttled")
    if visitor:
        hit("upload-visitor", key(visitor), UPLOAD_RATE, url=url, message="security.upload_throttled")
