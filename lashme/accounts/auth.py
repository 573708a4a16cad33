"""Accounts and sign-in sessions.

Passwords are hashed with Argon2id through passlib (argon2-cffi); passlib's
bcrypt scheme is unusable with bcrypt 5.  A signed-in browser holds a random
bearer token (256 bits); the database stores only its SHA-256.

Emails are checked with ``email-validator`` (RFC 5322/6531 syntax, no DNS
look-up) and refused when they hold markup characters.  Sign-in and sign-up
are throttled (:mod:`lashme.accounts.throttle`) *before* any password hash is
computed: sign-in per account and per IP, sign-up per IP.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from passlib.context import CryptContext
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lashme.accounts import roles, throttle
from lashme.credits import ledger
from lashme.errors import AuthError
from lashme.models import AuthSession, Job, LedgerKind, User, utcnow
from lashme.ops.settings import get_settings

#: the browser cookie holding a sign-in session's bearer token (pages and download routes)
SESSION_COOKIE = "lashme_session"
#: Argon2id cost: passlib's defaults (t=3, m=64 MiB, p=4; above RFC 9106's second recommended
#: option and OWASP's minimum m=19 MiB t=2).  ``LASHME_ARGON2_TIME_COST`` / ``LASHME_ARGON2_MEMORY_KIB``
#: lower it for test runs only; a stored hash keeps its own parameters, so verification never changes.
_ARGON2_COST = {
    "argon2__rounds": int(os.environ.get("LASHME_ARGON2_TIME_COST", "3")),
    "argon2__memory_cost": int(os.environ.get("LASHME_ARGON2_MEMORY_KIB", "65536")),
}
_pwd = CryptContext(schemes=["argon2"], deprecated="auto", **_ARGON2_COST)
#: characters that may be valid in a local part but only ever serve markup or script injection
_MARKUP_CHARS = frozenset('<>"`\\')
# a constant hash to spend equal time on unknown emails (no user enumeration by timing)
_DUMMY_HASH = _pwd.hash("not-a-real-password-1A")


def token_hash(token: str) -> str:
    """SHA-256 hex of a bearer token (what the database stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    r"""Trim, validate (``email-validator``, syntax only) and lower-case ``email``.

    Raises:
        AuthError: ``auth.email_invalid`` when it is not a valid address, or holds
            markup characters (``< > " ` \\``) or whitespace.
    """
    email = (email or "").strip()
    if not email or len(email) > 254 or any(c in _MARKUP_CHARS or c.isspace() for c in email):
        raise AuthError("auth.email_invalid")
    try:
        # test_environment: accept the reserved ``.test`` domain (staff test accounts); no DNS look-up
        checked = validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise AuthError("auth.email_invalid") from None
    return checked.normalized.lower()


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
    session: Session,
    *,
    email: str,
    password: str,
    signup_bonus: int,
    anon_token: str | None = None,
    ip: str | None = None,
) -> User:
    """Create an account, write the ``signup_bonus`` ledger entry, claim anonymous jobs.

    Args:
        session: the caller's open session (the caller commits).
        email: the address typed (normalised here).
        password: the new password (checked for strength, then hashed).
        signup_bonus: free credits granted once; when positive the account is created already
            verified (``users.email_verified_at``).
        anon_token: this browser's visitor token: its jobs move to the new account.
        ip: the caller's IP; sign-ups are throttled per IP (``throttle.SIGN_UP_IP_RATE``)
            after the cheap checks and before the password is hashed.

    Raises:
        AuthError: ``auth.email_invalid``, ``auth.password_weak`` or ``auth.email_taken``.
        Throttled: ``security.signup_throttled``.
    """
    email = normalize_email(email)
    check_password_strength(password)
    throttle.sign_up_attempt(ip)
    # a bonus granted here means the address counts as proved (staff tools, tests); the pages pass 0 and
    # grant it on verification (lashme.accounts.verification), under the same idempotency key
    verified_at = utcnow() if signup_bonus > 0 else None
    user = User(email=email, password_hash=hash_password(password), email_verified_at=verified_at)
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


def authenticate(session: Session, *, email: str, password: str, ip: str | None = None) -> User:
    """Check credentials; attempts are counted before the password hash is computed.

    Each attempt counts against the account (``throttle.SIGN_IN_ACCOUNT_RATE``:
    after 10 failures in 15 minutes the account is locked for everyone until the
    oldest attempt leaves the window; a correct password clears the count) and
    against the caller's IP (``throttle.SIGN_IN_IP_RATE``).  Unknown emails count
    like known ones, so the lock tells nothing about which accounts exist.

    Args:
        session: the caller's open session.
        email: the address typed.
        password: the password typed.
        ip: the caller's IP, when the client knows it.

    Raises:
        AuthError: ``auth.bad_credentials`` (unknown email or wrong password) or ``auth.blocked``.
        Throttled: ``security.signin_locked`` or ``security.signin_ip_throttled`` (no hash computed).
    """
    try:
        email = normalize_email(email)
    except AuthError:
        raise AuthError("auth.bad_credentials") from None
    throttle.sign_in_attempt(email, ip)
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        raise AuthError("auth.bad_credentials")
    if not verify_password(password, user.password_hash):
        raise AuthError("auth.bad_credentials")
    throttle.sign_in_succeeded(email)
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
