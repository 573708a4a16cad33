"""The admin check every admin service function starts with.

Roles are read from ``user_roles`` in the caller's own transaction; a
refusal raises :class:`AdminRequired` and writes one ``admin.denied``
warning (who asked, for what), so probing the admin API leaves a trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from lashme.accounts.roles import STAFF_ROLES, roles_of
from lashme.errors import AuthError
from lashme.models import Role, User

log = logging.getLogger(__name__)


class AdminRequired(AuthError):
    """The caller is not signed in as an (unblocked) admin, or a super admin was required."""

    def __init__(self, key: str = "admin.forbidden", **params: object) -> None:
        super().__init__(key, **params)


@dataclass(frozen=True)
class Admin:
    """The acting staff member.

    Attributes:
        id: user id.
        email: their email (copied into audit rows, so the log outlives renames).
        roles: roles held at the time of the check.
    """

    id: int
    email: str
    roles: frozenset[Role]

    @property
    def is_super(self) -> bool:
        """True for a super admin."""
        return Role.SUPER_ADMIN in self.roles

    @property
    def actor(self) -> str:
        """The ledger ``actor`` string: ``admin:{id}``."""
        return f"admin:{self.id}"


def require_admin(session: Session, user_id: int | None, *, action: str, super_admin: bool = False) -> Admin:
    """Check that ``user_id`` is an unblocked admin (or super admin) and return who they are.

    Args:
        session: open session; roles are read in its transaction.
        user_id: the caller's user id from the server-side sign-in session; None for a visitor.
        action: what was attempted (for the refusal log line), e.g. ``"adjust_credits"``.
        super_admin: require ``super_admin`` rather than any staff role.

    Returns:
        The acting :class:`Admin`.

    Raises:
        AdminRequired: visitor, unknown or blocked user, or missing role.
    """
    user = session.get(User, user_id) if user_id is not None else None
    roles = roles_of(session, user_id) if user is not None and not user.is_blocked else frozenset()
    needed = {Role.SUPER_ADMIN} if super_admin else STAFF_ROLES
    if not roles & needed:
        log.warning(
            "admin.denied: user %s tried %s",
            user_id,
            action,
            extra={"event_kind": "admin.denied", "needed": "super_admin" if super_admin else "admin"},
        )
        raise AdminRequired("admin.super_required" if super_admin and roles else "admin.forbidden")
    return Admin(id=user.id, email=user.email, roles=roles)
