"""Checking the ledger: every stored balance equals its entries, and no hold outlives its job.

``lashme ledger verify`` (``lashme.cli``) and the tests run :func:`verify`; it only reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from lashme.credits.ledger import SETTLE_KINDS
from lashme.models import FINAL_JOB_STATUSES, Job, LedgerEntry, LedgerKind, User


@dataclass(frozen=True)
class Mismatch:
    """A user whose stored balance/held differ from the sums of their entries."""

    user_id: int
    balance: int
    ledger_sum: int
    held: int
    held_sum: int


@dataclass(frozen=True)
class OrphanHold:
    """A reservation still open although its job is finished (or gone): credits stuck in ``held``."""

    user_id: int
    job_id: str
    amount: int
    job_status: str | None


@dataclass(frozen=True)
class VerifyReport:
    """Result of :func:`verify`; ``ok`` when both lists are empty."""

    users_checked: int
    mismatches: list[Mismatch]
    orphan_holds: list[OrphanHold]

    @property
    def ok(self) -> bool:
        """True when every balance matches its entries and no hold is orphaned."""
        return not self.mismatches and not self.orphan_holds


def verify(session: Session) -> VerifyReport:
    """Check every user: ``balance == Σ delta``, ``held == Σ held_delta``, no orphaned hold.

    A hold is orphaned when its job's reservation rounds (``reserve`` entries
    minus ``capture``/``release`` entries) are still open while the job is
    DONE, FAILED, CANCELED or deleted.  Run it in one snapshot (the CLI uses
    REPEATABLE READ on PostgreSQL) so a job settling meanwhile is not reported.
    """
    sums = (
        select(
            LedgerEntry.user_id,
            func.coalesce(func.sum(LedgerEntry.delta), 0).label("d"),
            func.coalesce(func.sum(LedgerEntry.held_delta), 0).label("h"),
        )
        .group_by(LedgerEntry.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User.id, User.balance, User.held, sums.c.d, sums.c.h).outerjoin(
            sums, sums.c.user_id == User.id
        )
    ).all()
    mismatches = []
    for uid, bal, held, d, h in rows:
        d, h = d or 0, h or 0
        if bal != d or held != h:
            mismatches.append(Mismatch(uid, bal, d, held, h))
    # per job: Σ held_delta of reservation entries still open, with the job's status (one query)
    open_holds = (
        select(
            LedgerEntry.job_id.label("job_id"),
            LedgerEntry.user_id.label("user_id"),
            func.sum(LedgerEntry.held_delta).label("amount"),
        )
        .where(LedgerEntry.job_id.is_not(None), LedgerEntry.kind.in_((LedgerKind.RESERVE, *SETTLE_KINDS)))
        .group_by(LedgerEntry.job_id, LedgerEntry.user_id)
        .having(func.sum(LedgerEntry.held_delta) != 0)
        .subquery()
    )
    holds = session.execute(
        select(open_holds.c.user_id, open_holds.c.job_id, open_holds.c.amount, Job.status).outerjoin(
            Job, Job.id == open_holds.c.job_id
        )
    ).all()
    orphans = [
        OrphanHold(uid, job_id, int(amount), status)
        for uid, job_id, amount, status in holds
        if status is None or status in FINAL_JOB_STATUSES
    ]
    return VerifyReport(users_checked=len(rows), mismatches=mismatches, orphan_holds=orphans)
