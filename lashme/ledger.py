"""The credit ledger: the only code that changes a user's balance.

Protocol (every function below):

1. Look up ``idempotency_key``; if an entry exists, return it unchanged
   (a retried job or a replayed webhook changes nothing).
2. Inside a SAVEPOINT, run one atomic conditional ``UPDATE users SET
   balance = balance + :delta … WHERE id = :id AND <no overdraft>``.  The
   UPDATE takes the row lock (PostgreSQL) or the database write lock
   (SQLite, ``BEGIN IMMEDIATE``), so two racing spends cannot both pass
   the check: there is no read-modify-write.
3. Read the resulting balance under that lock and insert the entry with
   ``balance_after``.  A duplicate key from a concurrent twin raises
   ``IntegrityError``; the savepoint rolls the UPDATE back and the twin's
   entry is returned.

The caller owns the outer transaction (``lashme.db.session_scope``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lashme.errors import InsufficientCredits, NotFound
from lashme.models import LedgerEntry, LedgerKind, User


@dataclass(frozen=True)
class Balance:
    """A user's credits: ``available`` = ``total`` − ``held``."""

    total: int
    held: int

    @property
    def available(self) -> int:
        """Credits that can be spent now."""
        return self.total - self.held


def get_balance(session: Session, user_id: int) -> Balance:
    """Current balance of ``user_id``.

    Raises:
        NotFound: no such user.
    """
    row = session.execute(select(User.balance, User.held).where(User.id == user_id)).first()
    if row is None:
        raise NotFound("auth.required")
    return Balance(total=row[0], held=row[1])


def find_entry(session: Session, idempotency_key: str) -> LedgerEntry | None:
    """The entry recorded under ``idempotency_key``, if any."""
    return session.execute(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def post(
    session: Session,
    *,
    user_id: int,
    delta: int,
    kind: LedgerKind,
    reason: str,
    idempotency_key: str,
    actor: str = "system",
    held_delta: int = 0,
    job_id: str | None = None,
    variant_id: str | None = None,
    allow_overdraft: bool = False,
) -> tuple[LedgerEntry, bool]:
    """Append one ledger entry and apply it to the user's balance atomically.

    Args:
        session: the caller's open session (the caller commits).
        user_id: whose balance changes.
        delta: change of ``users.balance`` in credits (negative = spend).
        kind: what the entry records (``LedgerKind``).
        reason: human-readable reason shown in the ledger.
        actor: who caused it (``system``, ``user:{id}``, ``admin:{id}``).
        job_id: the job the entry belongs to, if any.
        variant_id: the variant the entry belongs to, if any.
        held_delta: change of ``users.held`` (positive = reserve).
        idempotency_key: unique key; a second call with it is a no-op.
        allow_overdraft: skip the ``balance - held >= 0`` guard (never used
            for user-initiated spends).

    Returns:
        ``(entry, created)``; ``created`` is False when the key already existed.

    Raises:
        InsufficientCredits: the change would make available credits negative.
        NotFound: no such user.
    """
    existing = find_entry(session, idempotency_key)
    if existing is not None:
        return existing, False
    stmt = (
        update(User)
        .where(User.id == user_id)
        .values(balance=User.balance + delta, held=User.held + held_delta)
        .execution_options(synchronize_session=False)
    )
    if not allow_overdraft:
        # available after the change must stay >= 0, held must stay >= 0
        stmt = stmt.where(User.balance + delta - (User.held + held_delta) >= 0)
        stmt = stmt.where(User.held + held_delta >= 0)
    try:
        with session.begin_nested():
            result = session.execute(stmt)
            if result.rowcount != 1:
                if session.get(User, user_id) is None:
                    raise NotFound("auth.required")
                raise InsufficientCredits()
            total, held = session.execute(select(User.balance, User.held).where(User.id == user_id)).one()
            entry = LedgerEntry(
                user_id=user_id,
                delta=delta,
                held_delta=held_delta,
                kind=kind,
                reason=reason,
                idempotency_key=idempotency_key,
                balance_after=total,
                held_after=held,
                job_id=job_id,
                variant_id=variant_id,
                actor=actor,
            )
            session.add(entry)
            session.flush()
    except IntegrityError:
        twin = find_entry(session, idempotency_key)
        if twin is None:
            raise
        return twin, False
    cached = session.identity_map.get(session.identity_key(User, user_id))
    if cached is not None:
        session.expire(cached)  # the UPDATE bypassed the ORM
    return entry, True


def grant(
    session: Session,
    *,
    user_id: int,
    amount: int,
    kind: LedgerKind,
    reason: str,
    idempotency_key: str,
    actor: str = "system",
) -> LedgerEntry:
    """Add ``amount`` (> 0) credits; idempotent by key.

    Raises:
        ValueError: ``amount`` is not positive.
    """
    if amount <= 0:
        raise ValueError("grant amount must be positive")
    entry, _ = post(
        session,
        user_id=user_id,
        delta=amount,
        kind=kind,
        reason=reason,
        idempotency_key=idempotency_key,
        actor=actor,
    )
    return entry


def entries(session: Session, user_id: int, *, limit: int = 50, offset: int = 0) -> list[LedgerEntry]:
    """A page of the user's ledger, newest first."""
    return list(
        session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.user_id == user_id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
            .offset(offset)
        ).scalars()
    )


@dataclass(frozen=True)
class Mismatch:
    """A user whose stored balance/held differ from the sums of their entries."""

    user_id: int
    balance: int
    ledger_sum: int
    held: int
    held_sum: int


def verify(session: Session) -> list[Mismatch]:
    """Check every user: ``balance == Σ delta`` and ``held == Σ held_delta``.

    Returns:
        The users that do not match (empty when the ledger is consistent).
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
    out = []
    for uid, bal, held, d, h in rows:
        d, h = d or 0, h or 0
        if bal != d or held != h:
            out.append(Mismatch(uid, bal, d, held, h))
    return out
