"""The writer of system audit rows (``admin_actions`` rows no staff member made).

Actions taken outside the admin pages (``lashme create-admin``, the ``ADMIN_EMAILS``
setting at sign-up) are audited here, below the application layer, so
:mod:`lashme.accounts.roles` can record them without importing ``lashme.app``.
The admin pages' own rows are written by :func:`lashme.app.admin.audit.record`.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from lashme.models import AdminAction


def append(
    session: Session,
    *,
    actor_id: int | None,
    actor_email: str,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AdminAction:
    """Append one ``admin_actions`` row in the caller's transaction (the one place that builds it).

    Args:
        session: open session (the action's own transaction; the caller commits).
        actor_id: the acting staff member's user id, or None for the system.
        actor_email: who acted: a staff email or a system source (cut to 254 characters).
        action: verb, e.g. ``"role_grant"``, ``"adjust_credits"``.
        target_type: ``"user"``, ``"job"``, ``"preset"``, ``"price"``, ``"pack"`` …
        target_id: the target's id or key (stored as text, cut to 128 characters).
        before: JSON-serialisable snapshot of the changed fields before the action.
        after: the same fields after it.
        reason: why, if known (cut to 255 characters; empty becomes None).

    Returns:
        The flushed row.
    """
    row = AdminAction(
        actor_id=actor_id,
        actor_email=actor_email[:254],
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:128],
        before=before,
        after=after,
        reason=(reason or None) and reason[:255],
    )
    session.add(row)
    session.flush()
    return row


def record_system(
    session: Session,
    *,
    source: str,
    action: str,
    target_type: str,
    target_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AdminAction:
    """Append an audit row for an action taken by the system, in the caller's transaction.

    Args:
        session: open session (the action's own transaction; the caller commits).
        source: who acted, e.g. ``"cli"`` or ``"setting:ADMIN_EMAILS"`` (stored as the actor's email).
        action: verb, e.g. ``"role_grant"``.
        target_type: ``"user"`` …
        target_id: the target's id or key.
        before: JSON-serialisable snapshot of the changed fields before the action.
        after: the same fields after it.
        reason: why, if known.

    Returns:
        The flushed row (``actor_id`` is None).
    """
    return append(
        session,
        actor_id=None,
        actor_email=source,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        reason=reason,
    )
