"""Admin changes to a user account: credit adjustments, blocking, staff roles.

Every public function takes ``(session, actor_id, ...)``, starts with
:func:`lashme.app.admin.guard.require_admin` and writes its audit row
(:func:`lashme.app.admin.audit.record`) in the caller's transaction, so a change
and its audit row commit or roll back together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import Session

from lashme.accounts import roles
from lashme.app.admin import audit
from lashme.app.admin.guard import require_admin
from lashme.app.admin.users import _role_names, _target
from lashme.credits import ledger
from lashme.errors import DomainError, InsufficientCredits
from lashme.models import AuthSession, Role

#: the largest credit change one adjustment may make, either way
MAX_ADJUST = 10_000
#: longest reason kept (the ledger's and the audit log's column width)
MAX_REASON = 255

_CLIENT_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class AdjustResult:
    """Outcome of :func:`adjust_credits`.

    Attributes:
        entry_id: the ledger entry recorded under the idempotency key.
        created: False when the key had been used already (nothing changed).
        available: the user's available credits now.
        held: the user's reserved credits now.
    """

    entry_id: int
    created: bool
    available: int
    held: int


def adjust_credits(
    session: Session,
    actor_id: int | None,
    user_id: int,
    delta: int,
    reason: str,
    *,
    idempotency_key: str,
) -> AdjustResult:
    """Add (``delta`` > 0) or remove (< 0) credits by hand, with a reason, exactly once per key.

    Written as an ``admin_adjust`` ledger entry (actor ``admin:{id}``) and an
    ``adjust_credits`` audit row with the available/held credits before and
    after.  A removal may bring the available balance to zero, never below.
    A second call with the same ``idempotency_key`` changes nothing, writes no
    audit row and returns the first call's entry with ``created=False``.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        user_id: whose balance changes.
        delta: whole credits, non-zero, within ±10000.
        reason: why (required; cut to 255 characters).
        idempotency_key: 8–64 characters ``[A-Za-z0-9_-]``, fresh per form submission.

    Returns:
        An :class:`AdjustResult`.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.bad_amount``, ``admin.reason_required``; ``admin.self_action``
            for the admin's own account.
        NotFound: ``admin.user_not_found``.
        InsufficientCredits: ``admin.insufficient``: the removal exceeds the available credits.
        ValueError: a malformed ``idempotency_key`` (a programming error: the UI makes it).
    """
    admin = require_admin(session, actor_id, action="adjust_credits")
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_ADJUST:
        raise DomainError("admin.bad_amount", max=MAX_ADJUST)
    text = reason.strip()[:MAX_REASON] if isinstance(reason, str) else ""
    if not text:
        raise DomainError("admin.reason_required")
    if not isinstance(idempotency_key, str) or not _CLIENT_KEY.match(idempotency_key):
        raise ValueError("idempotency_key must be 8-64 characters of [A-Za-z0-9_-]")
    # lock the user row first: a concurrent twin with the same key waits here, then sees our entry
    user = _target(session, user_id, lock=True)
    if user.id == admin.id:  # nobody grants themselves credits; another admin must do it
        raise DomainError("admin.self_action")
    key = f"admin_adjust:{user.id}:{idempotency_key}"
    existing = ledger.find_entry(session, key)
    if existing is not None:
        bal = ledger.get_balance(session, user.id)
        return AdjustResult(entry_id=existing.id, created=False, available=bal.available, held=bal.held)
    try:
        entry = ledger.adjust(
            session, user_id=user.id, delta=delta, reason=text, actor=admin.actor, idempotency_key=key
        )
    except InsufficientCredits:
        available = ledger.get_balance(session, user.id).available
        raise InsufficientCredits("admin.insufficient", available=available) from None
    held = entry.held_after
    before = {"available": entry.balance_after - delta - held, "held": held}
    after = {"available": entry.balance_after - held, "held": held}
    audit.record(
        session,
        admin,
        action="adjust_credits",
        target_type="user",
        target_id=user.id,
        before=before,
        after=after,
        reason=text,
    )
    return AdjustResult(entry_id=entry.id, created=True, available=after["available"], held=held)


def set_blocked(session: Session, actor_id: int | None, user_id: int, blocked: bool) -> bool:
    """Block or unblock an account; blocking also ends all of the user's sign-in sessions.

    A blocked user cannot sign in, is ignored by ``auth.user_for_token`` and
    cannot submit photos.  Nobody blocks themselves; only a super admin blocks
    (or unblocks) a staff member.  Setting the state it already has changes
    nothing and writes no audit row.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        user_id: the account.
        blocked: True to block, False to unblock.

    Returns:
        True when the account changed.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.self_action``, ``admin.super_required``.
        NotFound: ``admin.user_not_found``.
        ValueError: ``blocked`` is not a bool.
    """
    action = "block_user" if blocked is True else "unblock_user"
    admin = require_admin(session, actor_id, action=action)
    if not isinstance(blocked, bool):
        raise ValueError("blocked must be a bool")
    user = _target(session, user_id, lock=True)
    if user.id == admin.id:
        raise DomainError("admin.self_action")
    if roles.is_staff(session, user.id) and not admin.is_super:
        raise DomainError("admin.super_required")
    if bool(user.is_blocked) == blocked:
        return False
    before = {"blocked": bool(user.is_blocked)}
    user.is_blocked = blocked
    session.add(user)
    after: dict[str, object] = {"blocked": blocked}
    if blocked:
        ended = session.execute(delete(AuthSession).where(AuthSession.user_id == user.id)).rowcount
        after["sessions_ended"] = int(ended or 0)
    session.flush()
    audit.record(
        session, admin, action=action, target_type="user", target_id=user.id, before=before, after=after
    )
    return True


def set_role(session: Session, actor_id: int | None, user_id: int, role: str, granted: bool) -> list[str]:
    """Grant or revoke a staff role (super admins only); audited as ``role_grant``/``role_revoke``.

    A change ends every sign-in session of the account (session rotation on a privilege change,
    OWASP Session Management): a session id issued before the change never carries the new
    rights, and a revoked admin's open tabs lose the old ones at once.  The user signs in again.

    A super admin cannot remove their own ``super_admin`` role (so the last
    one cannot lock everybody out by accident).  Granting a role already held,
    or revoking one not held, changes nothing and writes no audit row.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be a super admin).
        user_id: the account.
        role: ``"admin"`` or ``"super_admin"``.
        granted: True to grant, False to revoke.

    Returns:
        The user's roles afterwards, sorted.

    Raises:
        AdminRequired: the caller is not a super admin (``admin.super_required`` for an admin).
        DomainError: ``admin.self_action``.
        NotFound: ``admin.user_not_found``.
        ValueError: an unknown ``role`` or a non-bool ``granted``.
    """
    action = "role_grant" if granted is True else "role_revoke"
    admin = require_admin(session, actor_id, action=action, super_admin=True)
    if not isinstance(granted, bool):
        raise ValueError("granted must be a bool")
    try:
        wanted = Role(role) if isinstance(role, str) else None
    except ValueError:
        wanted = None
    if wanted is None:
        raise ValueError(f"unknown role {role!r}")
    user = _target(session, user_id, lock=True)
    if user.id == admin.id and wanted is Role.SUPER_ADMIN and not granted:
        raise DomainError("admin.self_action")
    before = _role_names(session, user.id)
    if granted:
        changed = roles.add_role(session, user.id, wanted, granted_by=admin.actor)
    else:
        changed = roles.remove_role(session, user.id, wanted)
    after = _role_names(session, user.id)
    if changed:
        session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
        audit.record(
            session,
            admin,
            action=action,
            target_type="user",
            target_id=user.id,
            before={"roles": before},
            after={"roles": after},
        )
    return after


__all__ = ["MAX_ADJUST", "AdjustResult", "adjust_credits", "set_blocked", "set_role"]
