"""Unlocking a variant's full-resolution files: 1 credit (``unlock_cost``) per variant, once.

The charge and the ``unlocks`` row are written in one transaction: the
ledger's conditional UPDATE guards the balance, and the unique
``(user_id, variant_id)`` constraint (claimed first) plus the idempotency key
``unlock:{user_id}:{variant_id}`` make a second, racing unlock of the same
variant a free no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from lashme.credits import ledger
from lashme.errors import DomainError, InsufficientCredits, NotFound
from lashme.jobs import lifecycle as jobs
from lashme.models import JobStatus, LedgerKind, Unlock, utcnow


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

    Round trips after the ownership check: the ``unlocks`` row is claimed first
    (``INSERT … ON CONFLICT DO NOTHING``: a racing twin of the same variant waits
    here and then finds it taken, free), then one ledger posting, then the
    row gets its ``ledger_entry_id``.  A refused charge removes the claimed row
    again before :class:`InsufficientCredits` propagates, so a caller that
    catches it and commits leaves nothing behind.

    Raises:
        NotFound: ``variant.not_found`` (missing, not the user's) or
            ``variant.not_ready`` (filtered, or its job is not DONE).
        DomainError: ``variant.altered``: the fidelity guard found it reshapes the work
            (``Variant.altered``); it is never sold, nothing changes.
        InsufficientCredits: available balance < ``cost``; nothing changes.
    """
    variant, job = jobs.get_owned_variant(session, variant_id, user_id=user_id)
    if job.status != JobStatus.DONE or variant.filtered or not variant.preview_key:
        raise NotFound("variant.not_ready")
    if variant.altered:
        raise DomainError("variant.altered")
    session.flush()
    conn = session.connection()
    now = utcnow()
    claim = _claim_statement(conn.dialect.name)
    unlock_id = conn.execute(
        claim, {"user_id": user_id, "variant_id": variant_id, "created_at": now}
    ).scalar()
    if unlock_id is None:  # unlocked before (or by a twin that just committed): free
        existing = session.execute(
            select(Unlock).where(Unlock.user_id == user_id, Unlock.variant_id == variant_id)
        ).scalar_one()
        return UnlockResult(existing, False, ledger.get_balance(session, user_id))
    unlock = Unlock(id=unlock_id, user_id=user_id, variant_id=variant_id, created_at=now)
    if cost <= 0:
        return UnlockResult(unlock, True, ledger.get_balance(session, user_id))
    try:
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
    except InsufficientCredits:
        conn.execute(delete(_UNLOCKS).where(_UNLOCKS.c.id == unlock_id))
        raise
    conn.execute(update(_UNLOCKS).where(_UNLOCKS.c.id == unlock_id).values(ledger_entry_id=entry.id))
    unlock.ledger_entry_id = entry.id
    return UnlockResult(unlock, created, ledger.Balance(total=entry.balance_after, held=entry.held_after))


_UNLOCKS = Unlock.__table__


def _claim_statement(dialect: str):
    """``INSERT INTO unlocks … ON CONFLICT (user_id, variant_id) DO NOTHING RETURNING id``."""
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        ins(_UNLOCKS)
        .values(
            user_id=bindparam("user_id"),
            variant_id=bindparam("variant_id"),
            created_at=bindparam("created_at"),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "variant_id"])
        .returning(_UNLOCKS.c.id)
    )
