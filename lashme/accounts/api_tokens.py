"""Personal access tokens for the REST API v1.

A token is ``lm_`` + 40 random URL-safe characters (~240 bits), shown to its owner once.
The database keeps its SHA-256 (:func:`lashme.accounts.auth.token_hash`), a short display
prefix, a name and its scopes: ``read`` (GET endpoints) or ``read write`` (everything a
master does on the pages).  Revoking sets ``revoked_at``; a revoked, unknown or blocked
owner's token authenticates nobody.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from lashme.accounts.auth import token_hash
from lashme.errors import DomainError, NotFound
from lashme.models import ApiToken, User, utcnow

#: the scopes a token may hold, in order of power
SCOPES = ("read", "write")
#: tokens one user may hold at once (active ones)
MAX_ACTIVE_TOKENS = 20
TOKEN_PREFIX = "lm_"


@dataclass(frozen=True)
class TokenView:
    """One token as its owner sees it (never the secret, except ``secret`` right after creation)."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    secret: str | None = None


@dataclass(frozen=True)
class TokenIdentity:
    """Who a presented token authenticates: the owner's id and the token's scopes."""

    user_id: int
    token_id: int
    scopes: frozenset[str]


def _view(row: ApiToken, secret: str | None = None) -> TokenView:
    return TokenView(
        id=row.id or 0,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes.split()),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked_at is not None,
        secret=secret,
    )


def create_token(session: Session, user_id: int, *, name: str, write: bool) -> TokenView:
    """Create a token for ``user_id``; the returned view carries the secret (shown once).

    Args:
        session: open session (the caller's transaction).
        user_id: the owner.
        name: a label for the owner (1–64 characters after trimming).
        write: grant ``write`` besides ``read``.

    Raises:
        DomainError: ``api.token_name_invalid`` for an empty or long name,
            ``api.token_limit`` when the user already holds ``MAX_ACTIVE_TOKENS`` active tokens.
    """
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise DomainError("api.token_name_invalid")
    active = session.execute(
        select(ApiToken.id).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ).all()
    if len(active) >= MAX_ACTIVE_TOKENS:
        raise DomainError("api.token_limit")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    row = ApiToken(
        user_id=user_id,
        name=name,
        token_hash=token_hash(secret),
        prefix=secret[:10],
        scopes="read write" if write else "read",
    )
    session.add(row)
    session.flush()
    return _view(row, secret)


def list_tokens(session: Session, user_id: int) -> list[TokenView]:
    """The user's tokens, newest first (revoked ones included, marked)."""
    rows = session.execute(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    ).scalars()
    return [_view(r) for r in rows]


def revoke_token(session: Session, user_id: int, token_id: int) -> None:
    """Revoke one of the user's tokens (idempotent).

    Raises:
        NotFound: no such token of this user.
    """
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise NotFound("api.token_not_found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def authenticate(session: Session, presented: str) -> TokenIdentity | None:
    """The identity behind a presented bearer token, or None (unknown, revoked, blocked owner).

    Records ``last_used_at`` (at most once a minute per token, to keep reads cheap).
    """
    if not presented or not presented.startswith(TOKEN_PREFIX) or len(presented) > 128:
        return None
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == token_hash(presented))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    owner = session.get(User, row.user_id)
    if owner is None or owner.is_blocked:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return TokenIdentity(user_id=row.user_id, token_id=row.id or 0, scopes=frozenset(row.scopes.split()))
