"""Accounts and sign-in sessions.

Passwords are hashed with Argon2id through passlib (argon2-cffi); passlib's
bcrypt scheme is unusable with bcrypt 5.  A signed-in browser holds a random
bearer token (256 bits); the database stores only its SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from passlib.context import CryptContext
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lashme.accounts import roles
from lashme.credits import ledger
from lashme.errors import AuthError
from lashme.models import AuthSession, Job, LedgerKind, User, utcnow
from lashme.ops.settings import get_settings

_pwd = CryptContext(schemes=["argon2"], deprecated="auto")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# a constant hash to spend equal time on unknown emails (no user enumeration by timing)
_DUMMY_HASH = _pwd.hash("not-a-real-password-1A")


def token_hash(token: str) -> str:
    """SHA-256 hex of a bearer token (what the database stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    """Trim and lower-case ``email``.

    Raises:
        AuthError: ``auth.email_invalid`` when it is not shaped like an address.
    """
    email = (email or "").strip().lower()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise AuthError("auth.email_invalid")
    return email


def check_password_strength(password: str) -> None:
    """Require ≥ 8 characters (≤ 128) with an upper-case letter, a lower-case letter and a digit.

    Raises:
        AuthError: ``auth.password_weak``.
    """
    p = password or ""
    if not (
        8 <= len(p) <= 128
        and any(c.isupper() for c in p)
        and any(c.islower() for c in p)
        and any(c.isdigit() for c in p)
    ):
        raise AuthError("auth.password_weak")


def hash_password(password: str) -> str:
    """Argon2id hash in PHC string format."""
    return _pwd.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches ``password_hash``; never raises on malformed hashes."""
    try:
        return _pwd.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


def claim_anonymous_jobs(session: Session, *, user_id: int, anon_token: str | None) -> int:
    """Give the jobs made anonymously in this browser to ``user_id``.

    Returns:
        The number of jobs claimed.
    """
    if not anon_token:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.anon_token_hash == token_hash(anon_token), Job.user_id.is_(None))
        .values(user_id=user_id, anon_token_hash=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def sign_up(
    session: Session, *, email: str, password: str, signup_bonus: int, anon_token: str | None = None
) -> User:
    """Create an account, write the ``signup_bonus`` ledger entry, claim anonymous jobs.

    Raises:
        AuthError: ``auth.email_invalid``, ``auth.password_weak`` or ``auth.email_taken``.
    """
    email = normalize_email(email)
    check_password_strength(password)
    user = User(email=email, password_hash=hash_password(password))
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise AuthError("auth.email_taken") from exc
    if signup_bonus > 0:
        ledger.grant(
            session,
            user_id=user.id,
            amount=signup_bonus,
            kind=LedgerKind.SIGNUP_BONUS,
            reason="Welcome bonus",
            idempotency_key=f"signup_bonus:{user.id}",
        )
    claim_anonymous_jobs(session, user_id=user.id, anon_token=anon_token)
    roles.grant_from_settings(session, user, roles.parse_admin_emails(get_settings().admin_emails))
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    """Check credentials.

    Raises:
        AuthError: ``auth.bad_credentials`` (unknown email or wrong password) or ``auth.blocked``.
    """
    try:
        email = normalize_email(email)
    except AuthError:
        raise AuthError("auth.bad_credentials") from None
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        raise AuthError("auth.bad_credentials")
    if not verify_password(password, user.password_hash):
        raise AuthError("auth.bad_credentials")
    if user.is_blocked:
        raise AuthError("auth.blocked")
    return user


def start_session(session: Session, *, user_id: int, days: int = 30) -> str:
    """Create a sign-in session and return its bearer token (43 url-safe chars)."""
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(token_hash=token_hash(token), user_id=user_id, expires_at=utcnow() + timedelta(days=days))
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str | None) -> User | None:
    """The active, unblocked user a bearer token belongs to, or None."""
    if not token or len(token) > 128:
        return None
    row = session.execute(
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(AuthSession.token_hash == token_hash(token), AuthSession.expires_at > utcnow())
    ).scalar_one_or_none()
    if row is None or row.is_blocked:
        return None
    return row


def end_session(session: Session, token: str | None) -> None:
    """Sign out: delete the session of ``token`` (no error if unknown)."""
    if token:
        session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash(token)))
