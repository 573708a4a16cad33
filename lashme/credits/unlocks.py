"""Unlocking a variant's full-resolution files: 1 credit (``unlock_cost``) per variant, once.

The charge and the ``unlocks`` row are written in one transaction: the
ledger's conditional UPDATE guards the balance, and the idempotency key
``unlock:{user_id}:{variant_id}`` plus the unique ``(user_id, variant_id)``
constraint make a second, racing unlock of the same variant a free no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lashme.credits import ledger
from lashme.errors import NotFound
from lashme.jobs import lifecycle as jobs
from lashme.models import JobStatus, LedgerKind, Unlock


@dataclass(frozen=True)
class UnlockResult:
    """``charged`` is False when the variant was already unlocked (re-download is free)."""

    unlock: Unlock
    charged: bool
    balance: ledger.Balance


def is_unlocked(session: Session, *, user_id: int, variant_id: str) -> bool:
    """True when ``user_id`` has unlocked ``variant_id``."""
    return (
        session.execute(
            select(Unlock.id).where(Unlock.user_id == user_id, Unlock.variant_id == variant_id)
        ).first()
        is not None
    )


def unlocked_ids(session: Session, *, user_id: int, variant_ids: list[str]) -> set[str]:
    """The subset of ``variant_ids`` the user has unlocked."""
    if not variant_ids:
        return set()
    rows = session.execute(
        select(Unlock.variant_id).where(Unlock.user_id == user_id, Unlock.variant_id.in_(variant_ids))
    ).scalars()
    return set(rows)


def unlock_variant(session: Session, *, user_id: int, variant_id: str, cost: int) -> UnlockResult:
    """Charge ``cost`` credits and record the unlock; free if already unlocked.

    Raises:
        NotFound: ``variant.not_found`` (missing, not the user's) or
            ``variant.not_ready`` (filtered, or its job is not DONE).
        InsufficientCredits: available balance < ``cost``; nothing changes.
    """
    variant, job = jobs.get_owned_variant(session, variant_id, user_id=user_id)
    if job.status != JobStatus.DONE or variant.filtered or not variant.full_key:
        raise NotFound("variant.not_ready")
    existing = session.execute(
        select(Unlock).where(Unlock.user_id == user_id, Unlock.variant_id == variant_id)
    ).scalar_one_or_none()
    if existing is not None:
        return UnlockResult(existing, False, ledger.get_balance(session, user_id))
    try:
        with session.begin_nested():
            entry = None
            if cost > 0:
                entry, created = ledger.post(
                    session,
                    user_id=user_id,
                    delta=-cost,
                    kind=LedgerKind.UNLOCK,
                    reason=f"Unlocked variant {variant.index + 1} ({variant.preset})",
                    idempotency_key=f"unlock:{user_id}:{variant_id}",
                    actor=f"user:{user_id}",
                    job_id=job.id,
                    variant_id=variant_id,
                )
            unlock = Unlock(
                user_id=user_id, variant_id=variant_id, ledger_entry_id=entry.id if entry else None
            )
            session.add(unlock)
            session.flush()
    except IntegrityError:
        existing = session.execute(
            select(Unlock).where(Unlock.user_id == user_id, Unlock.variant_id == variant_id)
        ).scalar_one()
        return UnlockResult(existing, False, ledger.get_balance(session, user_id))
    return UnlockResult(unlock, True, ledger.get_balance(session, user_id))
