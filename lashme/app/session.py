"""The session every page shares: who the caller is, the header's figures, the language.

- :func:`caller_for` — a page's credential (sign-in cookie, visitor token,
  language cookie, IP) turned into a :class:`~lashme.app.caller.Caller`,
  re-read from the database on every call.
- :func:`load` — the caller plus the header (:class:`Header`: email,
  balance available/held, staff flag, the current prices) in one transaction.
- :func:`set_language` — a language switch, saved on the account when signed in.
- :func:`new_visitor_token` — a fresh browser token for a visitor.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from lashme import i18n
from lashme.accounts.auth import SESSION_COOKIE
from lashme.app import caller as callers
from lashme.app.caller import Caller
from lashme.credits import ledger, pricing
from lashme.models import User
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

__all__ = [
    "SESSION_COOKIE",
    "Header",
    "SessionInfo",
    "caller_for",
    "load",
    "new_visitor_token",
    "session_days",
    "set_language",
]


@dataclass(frozen=True)
class Header:
    """What the header shows.

    Attributes:
        email: the signed-in user's email ("" for a visitor).
        available: credits the user can spend now.
        held: credits reserved by running jobs.
        is_staff: show the Admin link (a display hint; admin use-cases check again).
        unlock_cost: credits one unlock costs now.
        signup_bonus: free credits a new account gets now.
    """

    email: str
    available: int
    held: int
    is_staff: bool
    unlock_cost: int
    signup_bonus: int


@dataclass(frozen=True)
class SessionInfo:
    """:func:`load`'s answer: the caller and their header."""

    caller: Caller
    header: Header


def caller_for(
    *,
    auth_token: str | None,
    anon_token: str | None = None,
    locale: str | None = None,
    accept_language: str | None = "",
    ip: str | None = None,
) -> Caller:
    """The caller behind a page's cookies, checked in the database (never trusted from the client).

    Args:
        auth_token: the sign-in cookie (:data:`SESSION_COOKIE`); an unknown, expired or
            blocked one makes a visitor.
        anon_token: the browser's visitor token.
        locale: the language cookie; the account's saved language wins over it.
        accept_language: the browser's ``Accept-Language`` header (used when neither is set).
        ip: the client's IP address.
    """
    with session_scope() as s:
        return callers.from_session_token(
            s, auth_token, anon_token=anon_token, locale=locale, accept_language=accept_language, ip=ip
        )


def load(
    *,
    auth_token: str | None,
    anon_token: str | None = None,
    locale: str | None = None,
    accept_language: str | None = "",
    ip: str | None = None,
) -> SessionInfo:
    """:func:`caller_for` plus the header's figures, read in one transaction."""
    with session_scope() as s:
        caller = callers.from_session_token(
            s, auth_token, anon_token=anon_token, locale=locale, accept_language=accept_language, ip=ip
        )
        prices = pricing.get_prices(s)
        email, available, held = "", 0, 0
        if caller.user_id is not None:
            user = s.get(User, caller.user_id)
            balance = ledger.get_balance(s, caller.user_id)
            email, available, held = user.email, balance.available, balance.held
    header = Header(
        email=email,
        available=available,
        held=held,
        is_staff=caller.is_staff,
        unlock_cost=prices.unlock_cost,
        signup_bonus=prices.signup_bonus,
    )
    return SessionInfo(caller=caller, header=header)


def set_language(caller: Caller, code: str) -> str | None:
    """Switch the caller's language; a signed-in user's choice is saved on the account.

    Args:
        caller: who asks.
        code: a language code (``en``, ``ru``, ``ru-RU`` …).

    Returns:
        The normalized locale, or None when ``code`` is not a supported language (nothing changes).
    """
    locale = i18n.normalize(str(code)[:8])
    if locale is None:
        return None
    if caller.user_id is not None:
        with session_scope() as s:
            user = s.get(User, caller.user_id)
            if user is not None:
                user.locale = locale
                s.add(user)
    return locale


def new_visitor_token() -> str:
    """A new random visitor token for a browser (256 bits, 43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def session_days() -> int:
    """How many days a sign-in session (and its cookie) lasts."""
    return get_settings().session_days


def request_is_https(scope: dict) -> bool:
    """True when the browser reached the app over https (ASGI ``scope``; ``ops.http.origins.is_https``)."""
    from lashme.ops.http import origins

    return origins.is_https(scope)


def request_origin_allowed(origin: str | None, scope: dict) -> bool:
    """Whether a request with ``Origin: origin`` is the app's own (``ops.http.origins.origin_allowed``)."""
    from lashme.ops.http import origins

    return origins.origin_allowed(origin, scope)
