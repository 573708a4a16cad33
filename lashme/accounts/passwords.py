"""Replacing a password (by a reset link) and ending every sign-in session of an account."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlmodel import Session

from lashme.accounts import auth, throttle
from lashme.models import AuthSession, User


def end_all_sessions(session: Session, user_id: int) -> int:
    """Sign the account out everywhere: delete all its sign-in sessions.

    Personal API tokens (``api_tokens``) are not sessions and stay; the owner revokes them on ``/account``.

    Returns:
        How many sessions ended.
    """
    result = session.execute(
        delete(AuthSession).where(AuthSession.user_id == user_id).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def replace_password(session: Session, user: User, password: str) -> None:
    """Set ``user``'s new password, end all its sign-in sessions and clear its failed sign-in count.

    Args:
        session: the caller's open session (the caller commits).
        user: the account (a row of ``session``).
        password: the new password (strength-checked, then hashed with Argon2id).

    Raises:
        AuthError: ``auth.password_weak``.
    """
    auth.check_password_strength(password)
    user.password_hash = auth.hash_password(password)
    session.add(user)
    session.flush()
    end_all_sessions(session, user.id)
    throttle.sign_in_succeeded(user.email)


def account_for_reset(session: Session, email: str) -> User | None:
    """The unblocked account with the normalised address ``email``, or None (no reset mail for it)."""
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    return None if user is None or user.is_blocked else user
