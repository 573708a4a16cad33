"""The admin audit log (``admin_actions``): who did what, to what, before/after, when.

:func:`record` is called by every admin service function in the same
transaction as the change, so an action and its audit row commit (or roll
back) together.  :func:`search` is the filterable, paginated read for the
audit page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from lashme.accounts import audit_log
from lashme.accounts.audit_log import record_system
from lashme.app.admin.guard import Admin, require_admin
from lashme.app.paging import Page, paginate
from lashme.models import AdminAction


def record(
    session: Session,
    admin: Admin,
    *,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AdminAction:
    """Append one audit row for ``admin``'s action (the caller commits).

    Args:
        session: open session (the action's own transaction).
        admin: the acting admin (from :func:`lashme.app.admin.guard.require_admin`).
        action: verb, e.g. ``"adjust_credits"``, ``"block_user"``, ``"set_price"``.
        target_type: ``"user"``, ``"job"``, ``"preset"``, ``"price"``, ``"pack"`` …
        target_id: the target's id or key.
        before: JSON-serialisable snapshot of the changed fields before the action.
        after: the same fields after it.
        reason: the admin's stated reason, if the action takes one.
    """
    return audit_log.append(
        session,
        actor_id=admin.id,
        actor_email=admin.email,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        reason=reason,
    )


@dataclass(frozen=True)
class AuditFilter:
    """Filters for :func:`search`; empty fields match everything.

    Attributes:
        action: exact action name.
        actor: part of the acting admin's email (case-insensitive).
        target_type: exact target type.
        target_id: exact target id.
        since: inclusive lower bound on ``created_at`` (aware UTC).
        until: exclusive upper bound on ``created_at``.
    """

    action: str = ""
    actor: str = ""
    target_type: str = ""
    target_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


def search(
    session: Session, actor_id: int | None, filters: AuditFilter, *, token: str | None = None, limit: int = 25
) -> Page[AdminAction]:
    """One page of audit rows, newest first; the page's ``total`` is how many match ``filters``.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        filters: what to match (:class:`AuditFilter`).
        token: page token from an earlier page of this list (None or unusable → the first page).
        limit: rows per page, clamped to 1..200.

    Returns:
        A :class:`~lashme.app.paging.Page` of :class:`~lashme.models.AdminAction` rows.

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="audit.search")
    conds = []
    if filters.action:
        conds.append(AdminAction.action == filters.action)
    if filters.actor:
        conds.append(func.lower(AdminAction.actor_email).contains(filters.actor.lower(), autoescape=True))
    if filters.target_type:
        conds.append(AdminAction.target_type == filters.target_type)
    if filters.target_id:
        conds.append(AdminAction.target_id == filters.target_id)
    if filters.since is not None:
        conds.append(AdminAction.created_at >= filters.since)
    if filters.until is not None:
        conds.append(AdminAction.created_at < filters.until)
    page = paginate(
        session,
        select(AdminAction).where(*conds),
        order=(AdminAction.created_at.desc(), AdminAction.id.desc()),
        token=token,
        limit=limit,
        scope="admin.audit",
        count=True,
    )
    return page.map(lambda row: row[0])


def actions(session: Session, actor_id: int | None) -> list[str]:
    """Distinct action names in the log (for the filter menu).

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="audit.actions")
    return sorted(session.execute(select(AdminAction.action).distinct()).scalars())


__all__ = ["AuditFilter", "actions", "record", "record_system", "search"]
