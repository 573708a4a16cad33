"""Single-use, expiring links sent by email: password reset and email verification.

A link carries a random token (256 bits, 43 URL-safe characters); the database keeps only its
SHA-256 (``email_tokens``), the purpose, the address it was sent to and its expiry.  Spending a
token is one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at > now`` (check and
mark in one statement), so two clicks racing on the same link spend it once.  Issuing a new
link of a purpose supersedes the user's earlier unspent ones, and spending one retires the rest.
A link also stops working when the account's address is no longer the one it was sent to.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from lashme.accounts.auth import token_hash
from lashme.errors import AuthError
from lashme.models import EmailToken, User, utcnow

RESET = "reset"
VERIFY = "verify"
PURPOSES = frozenset({RESET, VERIFY})
#: longest token accepted from a client (issued ones are 43 characters)
MAX_TOKEN = 128


@dataclass(frozen=True)
class Spent:
    """A link that checked out.

    Attributes:
        user_id: the account it was issued for.
        email: the address it was sent to (still the account's).
    """

    user_id: int
    email: str


def issue(session: Session, *, user_id: int, email: str, purpose: str, ttl_seconds: int) -> str:
    """Make a new link token for ``user_id`` and retire the user's earlier unspent ones of ``purpose``.

    Args:
        session: the caller's open session (the caller commits, then sends the mail).
        user_id: the account.
        email: the address the link is sent to.
        purpose: :data:`RESET` or :data:`VERIFY`.
        ttl_seconds: how long the link works.

    Returns:
        The token to put in the link (shown once, never stored).

    Raises:
        ValueError: unknown ``purpose``.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    now = utcnow()
    _retire(session, user_id, purpose, now)
    token = secrets.token_urlsafe(32)
    session.add(
        EmailToken(
            token_hash=token_hash(token),
            user_id=user_id,
            purpose=purpose,
            email=email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    session.flush()
    return token


def _retire(session: Session, user_id: int, purpose: str, now) -> None:
    session.execute(
        update(EmailToken)
        .where(EmailToken.user_id == user_id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def _clean(token: str | None) -> str | None:
    token = (token or "").strip()
    return token if token and len(token) <= MAX_TOKEN else None


def peek(session: Session, token: str | None, purpose: str) -> Spent | None:
    """The link's account when ``token`` would work now (nothing is spent), else None."""
    token = _clean(token)
    if token is None:
        return None
    row = session.execute(
        select(EmailToken.user_id, EmailToken.email)
        .join(User, User.id == EmailToken.user_id)
        .where(
            EmailToken.token_hash == token_hash(token),
            EmailToken.purpose == purpose,
            EmailToken.used_at.is_(None),
            EmailToken.expires_at > utcnow(),
            User.email == EmailToken.email,
        )
    ).first()
    return Spent(user_id=row[0], email=row[1]) if row else None


def spend(session: Session, token: str | None, purpose: str) -> Spent:
    """Use the link once: mark it (and the user's other unspent links of ``purpose``) spent.

    Raises:
        AuthError: ``accounts.link_invalid`` — unknown, already used, superseded, expired,
            or sent to an address the account no longer has.
    """
    token = _clean(token)
    if token is None:
        raise AuthError("accounts.link_invalid")
    now = utcnow()
    row = session.execute(
        update(EmailToken)
        .where(
            EmailToken.token_hash == token_hash(token),
            EmailToken.purpose == purpose,
            EmailToken.used_at.is_(None),
            EmailToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(EmailToken.user_id, EmailToken.email)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise AuthError("accounts.link_invalid")
    user = session.get(User, row[0])
    if user is None or user.email != row[1]:
        raise AuthError("accounts.link_invalid")
    _retire(session, user.id, purpose, now)
    return Spent(user_id=user.id, email=row[1])
