"""Staff roles (``admin``, ``super_admin``) kept in ``user_roles``.

A role is a row, not a flag on ``users``: granting and removing are
separate audited actions, and a user may hold both.  ``super_admin`` implies
every ``admin`` right.  The first super admin comes from ``lashme
create-admin EMAIL`` (:func:`bootstrap_super_admin`) or from the
``ADMIN_EMAILS`` setting when that address signs up
(:func:`grant_from_settings`); after that only a super admin grants or
removes roles (``lashme.app.admin.users.set_role``).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lashme.accounts import audit_log
from lashme.models import AuthSession, Role, User, UserRole

STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPER_ADMIN})


def roles_of(session: Session, user_id: int | None) -> frozenset[Role]:
    """The roles ``user_id`` holds (empty for None or a user without roles)."""
    if user_id is None:
        return frozenset()
    rows = session.execute(select(UserRole.role).where(UserRole.user_id == user_id)).scalars()
    return frozenset(Role(r) for r in rows)


def is_staff(session: Session, user_id: int | None) -> bool:
    """True when ``user_id`` holds ``admin`` or ``super_admin``."""
    return bool(roles_of(session, user_id) & STAFF_ROLES)


def add_role(session: Session, user_id: int, role: Role, *, granted_by: str) -> bool:
    """Give ``role`` to ``user_id`` (no authorization check: callers check it).

    Returns:
        True when the role was added, False when the user already held it.
    """
    if role in roles_of(session, user_id):
        return False
    try:
        with session.begin_nested():
            session.add(UserRole(user_id=user_id, role=Role(role), granted_by=granted_by[:64]))
            session.flush()
    except IntegrityError:  # granted concurrently
        return False
    return True


def remove_role(session: Session, user_id: int, role: Role) -> bool:
    """Take ``role`` from ``user_id`` (no authorization check).  Returns True when a row was removed."""
    result = session.execute(delete(UserRole).where(UserRole.user_id == user_id, UserRole.role == Role(role)))
    return bool(result.rowcount)


def parse_admin_emails(raw: str | None) -> frozenset[str]:
    """``ADMIN_EMAILS`` (comma- or space-separated addresses) as a set of lower-case emails."""
    if not raw:
        return frozenset()
    parts = raw.replace(";", ",").replace(" ", ",").split(",")
    return frozenset(part.strip().lower() for part in parts if part.strip())


def grant_from_settings(session: Session, user: User, admin_emails: frozenset[str]) -> bool:
    """At sign-up: make ``user`` a super admin when their email is listed in ``ADMIN_EMAILS``.

    Returns:
        True when the role was granted (and audited as ``role_grant`` by ``setting:ADMIN_EMAILS``).
    """
    if user.email.lower() not in admin_emails:
        return False
    return _grant_bootstrap(session, user, source="setting:ADMIN_EMAILS")


def bootstrap_super_admin(session: Session, email: str) -> tuple[User, bool]:
    """``lashme create-admin EMAIL``: make an existing account a super admin.

    The account's open sign-in sessions end (rotation on a privilege change): it signs in again.

    Returns:
        ``(user, granted)``; ``granted`` is False when the user already was one.

    Raises:
        LookupError: no account with that email (sign up first).
    """
    # stored emails are trimmed and lower-cased at sign-up (``auth.normalize_email``); roles must not
    # import auth (auth imports roles), so the lookup folds the same way
    wanted = (email or "").strip().lower()
    user = session.execute(select(User).where(User.email == wanted)).scalar_one_or_none()
    if user is None:
        raise LookupError(f"no account with email {email!r}: sign up first")
    granted = _grant_bootstrap(session, user, source="cli")
    if granted:
        session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    return user, granted


def _grant_bootstrap(session: Session, user: User, *, source: str) -> bool:
    before = sorted(roles_of(session, user.id))
    if not add_role(session, user.id, Role.SUPER_ADMIN, granted_by=source):
        return False
    audit_log.record_system(
        session,
        source=source,
        action="role_grant",
        target_type="user",
        target_id=str(user.id),
        before={"roles": before},
        after={"roles": sorted(roles_of(session, user.id))},
        reason=f"bootstrap super admin for {user.email}",
    )
    return True
