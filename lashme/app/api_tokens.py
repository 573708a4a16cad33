"""Personal access tokens: created and revoked by their owner (account page), checked by the REST API.

Use-cases:

- :func:`create` / :func:`list_mine` / :func:`revoke` — the owner manages tokens (signed-in callers only).
- :func:`caller_for_token` — the API turns an ``Authorization: Bearer lm_…`` token into a
  :class:`~lashme.app.caller.Caller` and the token's scopes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lashme.accounts import api_tokens
from lashme.accounts.api_tokens import TokenView
from lashme.app.caller import Caller, from_verified_user
from lashme.ops.db import session_scope

__all__ = ["TokenCaller", "TokenView", "caller_for_token", "create", "list_mine", "revoke"]


@dataclass(frozen=True)
class TokenCaller:
    """Who an API request acts for, and what its token allows (``{"read"}`` or ``{"read", "write"}``)."""

    caller: Caller
    scopes: frozenset[str]
    token_id: int


def create(caller: Caller, *, name: str, write: bool) -> TokenView:
    """Create a token for the signed-in caller; the view's ``secret`` is shown once.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        DomainError: ``api.token_name_invalid``, ``api.token_limit``.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        return api_tokens.create_token(s, user_id, name=name, write=bool(write))


def list_mine(caller: Caller) -> list[TokenView]:
    """The signed-in caller's tokens, newest first (no secrets).

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        return api_tokens.list_tokens(s, user_id)


def revoke(caller: Caller, token_id: object) -> None:
    """Revoke one of the caller's tokens (idempotent).

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``api.token_not_found`` (not the caller's, or not a number).
    """
    from lashme.errors import NotFound

    user_id = caller.require_user()
    try:
        tid = int(str(token_id))
    except ValueError:
        raise NotFound("api.token_not_found") from None
    with session_scope() as s:
        api_tokens.revoke_token(s, user_id, tid)


def caller_for_token(
    presented: str, *, accept_language: str | None = "", ip: str | None = None
) -> TokenCaller | None:
    """The caller behind a presented personal access token, or None when it authenticates nobody.

    A blocked owner's token authenticates nobody (``from_verified_user`` refuses them).
    """
    with session_scope() as s:
        identity = api_tokens.authenticate(s, presented)
    if identity is None:
        return None
    from lashme.errors import AuthError

    try:
        caller = from_verified_user(identity.user_id, accept_language=accept_language, ip=ip)
    except AuthError:
        return None
    return TokenCaller(caller=caller, scopes=identity.scopes, token_id=identity.token_id)


def issue_for_email(email: str, *, name: str, write: bool) -> TokenView:
    """Operator use-case (``lashme api-token EMAIL``): create a token for an existing account.

    Raises:
        LookupError: no account with that email.
        DomainError: ``api.token_name_invalid``, ``api.token_limit``.
    """
    from sqlalchemy import select

    from lashme.accounts.auth import normalize_email
    from lashme.models import User

    with session_scope() as s:
        user = s.execute(select(User).where(User.email == normalize_email(email))).scalar_one_or_none()
        if user is None:
            raise LookupError(f"no account for {email}")
        return api_tokens.create_token(s, user.id, name=name, write=bool(write))
