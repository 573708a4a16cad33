"""Idempotency keys for API writes: a retried request gets the first answer again.

The ``Idempotency-Key`` header follows the IETF draft draft-ietf-httpapi-idempotency-key-header.

:func:`replay` looks a key up; :func:`remember` stores the first successful answer.  The
key is scoped to the caller's user; the request's fingerprint (method, path, body hash)
must match, else the key is being reused for another request (409).  Answers are kept
:data:`KEEP_HOURS` hours (``lashme cleanup`` may delete older ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lashme.app.caller import Caller
from lashme.errors import DomainError
from lashme.models import IdempotentResponse, utcnow
from lashme.ops.db import session_scope

KEEP_HOURS = 24
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class StoredAnswer:
    """A remembered answer: HTTP status and JSON body."""

    status_code: int
    body: dict | None


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise DomainError("api.idempotency_key_invalid")
    return key


def replay(caller: Caller, key: str, fingerprint: str) -> StoredAnswer | None:
    """The answer remembered for ``key``, or None when the key is new (or expired).

    Args:
        caller: a signed-in caller (keys are per user).
        key: the client's ``Idempotency-Key``.
        fingerprint: a hash of method, path and body (64 hex).

    Raises:
        DomainError: ``api.idempotency_key_invalid`` (empty, too long, control characters),
            ``api.idempotency_key_reused`` (the key answered another request).
    """
    user_id = caller.require_user()
    key = _check_key(key)
    with session_scope() as s:
        row = s.execute(
            select(IdempotentResponse).where(
                IdempotentResponse.user_id == user_id, IdempotentResponse.key == key
            )
        ).scalar_one_or_none()
        if row is None or row.created_at < utcnow() - timedelta(hours=KEEP_HOURS):
            if row is not None:
                s.delete(row)
            return None
        if row.request_hash != fingerprint:
            raise DomainError("api.idempotency_key_reused")
        return StoredAnswer(status_code=row.status_code, body=row.body)


def remember(caller: Caller, key: str, fingerprint: str, status_code: int, body: dict | None) -> None:
    """Store the first answer for ``key`` (a concurrent duplicate that lost the race is ignored)."""
    user_id = caller.require_user()
    key = _check_key(key)
    try:
        with session_scope() as s:
            s.add(
                IdempotentResponse(
                    user_id=user_id, key=key, request_hash=fingerprint, status_code=status_code, body=body
                )
            )
    except IntegrityError:
        pass
