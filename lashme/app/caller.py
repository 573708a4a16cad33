"""Who is asking: the :class:`Caller` every use-case takes first, and the only two ways to make one.

A client never hands a use-case a user id it was given: it hands over its
credential and gets a ``Caller`` built from the database.

- :func:`from_session_token` — the pages: the sign-in cookie's bearer token is
  looked up in ``auth_sessions`` (expired, unknown or blocked → a visitor).
- :func:`from_verified_user` — a client that has verified the user itself (the
  REST API after checking a personal access token): the user row is read again
  for its roles, language and blocked flag.

Both go through :func:`_build`, so a caller always looks the same whichever
client made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from lashme import i18n
from lashme.accounts import auth, roles
from lashme.errors import AuthError
from lashme.models import User
from lashme.ops.db import session_scope

#: longest visitor token accepted (the pages make 43-character ones)
MAX_ANON_TOKEN = 64


@dataclass(frozen=True)
class Caller:
    """The person a use-case acts for.

    Attributes:
        user_id: the signed-in user's id, None for a visitor.
        anon_token: the visitor's browser token (owns the jobs made before signing up), or None.
        roles: role names held (``"admin"``, ``"super_admin"``), read from the database.
        locale: UI language code (``"en"``/``"ru"``) for messages and formatting.
        ip: the client's IP address (daily limits, throttles), if known.
    """

    user_id: int | None
    anon_token: str | None
    roles: frozenset[str]
    locale: str
    ip: str | None

    @property
    def signed_in(self) -> bool:
        """True for a signed-in user."""
        return self.user_id is not None

    @property
    def is_staff(self) -> bool:
        """True when the caller held ``admin`` or ``super_admin`` when the caller was made.

        A display hint only: admin use-cases check the role again in their own transaction.
        """
        return bool(self.roles & {str(r) for r in roles.STAFF_ROLES})

    def require_user(self) -> int:
        """The signed-in user's id.

        Raises:
            AuthError: ``auth.required`` for a visitor.
        """
        if self.user_id is None:
            raise AuthError("auth.required")
        return self.user_id


def clean_anon_token(token: str | None) -> str | None:
    """A visitor token as sent by a client, or None when empty or implausibly long."""
    token = (token or "").strip()
    return token if token and len(token) <= MAX_ANON_TOKEN else None


def resolve_locale(saved: str | None, requested: str | None, accept_language: str | None = "") -> str:
    """The caller's language: the account's saved one, else the requested one, else ``Accept-Language``."""
    return i18n.normalize(saved) or i18n.normalize(requested) or i18n.negotiate(accept_language)


def _build(
    session: Session,
    user: User | None,
    *,
    anon_token: str | None,
    locale: str | None,
    accept_language: str | None,
    ip: str | None,
) -> Caller:
    """The one place a :class:`Caller` is assembled (roles and language read in ``session``)."""
    held = frozenset(str(r) for r in roles.roles_of(session, user.id)) if user is not None else frozenset()
    return Caller(
        user_id=user.id if user is not None else None,
        anon_token=clean_anon_token(anon_token),
        roles=held,
        locale=resolve_locale(user.locale if user is not None else None, locale, accept_language),
        ip=(ip or None) and str(ip)[:64],
    )


def from_session_token(
    session: Session,
    auth_token: str | None,
    *,
    anon_token: str | None = None,
    locale: str | None = None,
    accept_language: str | None = "",
    ip: str | None = None,
) -> Caller:
    """The caller behind a sign-in cookie, in an open transaction (a visitor when the token is not valid).

    Args:
        session: open session (the caller is read in its transaction).
        auth_token: the sign-in session's bearer token (cookie), or None/"".
        anon_token: the browser's visitor token.
        locale: the language the client asks for (cookie); the account's saved language wins.
        accept_language: the browser's ``Accept-Language`` header, used when neither is set.
        ip: the client's IP address.
    """
    user = auth.user_for_token(session, auth_token)
    return _build(session, user, anon_token=anon_token, locale=locale, accept_language=accept_language, ip=ip)


def from_verified_user(
    user_id: int,
    *,
    locale: str | None = None,
    accept_language: str | None = "",
    ip: str | None = None,
) -> Caller:
    """The caller for a user id a client has already authenticated (e.g. by a personal access token).

    The user row is read again: a blocked or deleted account is refused, roles
    and the saved language come from the database.

    Raises:
        AuthError: ``auth.blocked`` (blocked account) or ``auth.required`` (no such user).
    """
    with session_scope() as s:
        user = s.get(User, int(user_id))
        if user is None:
            raise AuthError("auth.required")
        if user.is_blocked:
            raise AuthError("auth.blocked")
        return _build(s, user, anon_token=None, locale=locale, accept_language=accept_language, ip=ip)


def visitor(*, anon_token: str | None = None, locale: str | None = None, ip: str | None = None) -> Caller:
    """A caller who is not signed in (no database read: a visitor holds no roles)."""
    return Caller(
        user_id=None,
        anon_token=clean_anon_token(anon_token),
        roles=frozenset(),
        locale=resolve_locale(None, locale, ""),
        ip=(ip or None) and str(ip)[:64],
    )
