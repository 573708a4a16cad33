"""The credit ledger: the only code that changes a user's balance.

Protocol (every posting below: grant, adjust, unlock's charge, reserve,
capture, release, purchases, refunds) — ONE statement, one round trip
(built by ``lashme.credits.posting_sql``, run by ``lashme.credits.postings``; SQLAlchemy
Core, no ORM objects):

1. If an entry with ``idempotency_key`` exists, return it unchanged
   (a retried job or a replayed webhook changes nothing).
2. Else run an atomic conditional ``UPDATE users SET balance = balance +
   :delta … WHERE id = :id AND <no overdraft> RETURNING balance, held``.
   The UPDATE takes the row lock (PostgreSQL) or runs under the database
   write lock (SQLite, ``BEGIN IMMEDIATE``), so two racing spends cannot
   both pass the check: there is no read-modify-write.
3. Insert the entry with the resulting ``balance_after``/``held_after``
   (``ON CONFLICT (idempotency_key) DO NOTHING``).  A twin with the same key
   that committed meanwhile wins: this posting's UPDATE is reversed within
   the transaction and the twin's entry is returned.

On PostgreSQL the three steps are one statement with data-modifying CTEs;
on SQLite they are up to three statements under the write lock.

The posting functions (``post``, ``grant``, ``adjust``, ``reserve``,
``settle``) run in the caller's transaction: an ORM ``Session``
(``lashme.ops.db.session_scope``) or a Core ``Connection``
(``lashme.ops.db.connection_scope``: no ORM bookkeeping, less client CPU).
Given ``None`` instead, a posting is a transaction of its own: on PostgreSQL
the one statement in autocommit mode, so the whole posting, commit included,
is one round trip (``postings.run_alone``).

Which transaction each product caller posts in (the posting itself is the same one
statement everywhere; what differs is the transaction around it):

- unlock (``lashme.app.variant.unlock``): a Core ``connection_scope()`` transaction, all
  statements compiled once and run on the driver (``unlocks.unlock_variant``).  Not a
  posting of its own: the charge, the ``unlocks`` row and the render request commit
  together (a committed charge without its row is a paid variant left locked).
- reserve at job creation, capture/release and the retry's new round
  (``lashme.jobs.lifecycle.create_job``/``transition``): the caller's ORM session,
  because the posting must commit atomically with the job row / status change.  A job
  row without its reservation is a free job; a FINAL status without its settlement is an
  orphaned hold (``ledger_check.verify``); posting first is not safe either: a capture committed
  before a transition that then loses its lease (``StaleRun``) or races
  (``InvalidTransition``) charges a job that may still fail, and its release would replay
  the capture's key ``settle:{job}:{n}`` as a no-op.
- sign-up bonus (``accounts.auth.sign_up``: the user row is not committed yet;
  ``accounts.verification.mark_verified``: the caller's session has written the user row
  and spends the single-use link in the same transaction), purchase
  (``payments.fulfil_checkout_session``: the order must become PAID with its grant, and
  ``UNIQUE(payment_intent_id)`` is checked at the flush before the grant: granting first
  could credit one payment twice under two orders), refund/refund-failed (Stripe
  webhooks: the order's counters change with the entry), admin adjust and job refund
  (``lashme.app.admin``: the user/job row is locked ``FOR UPDATE`` and the audit row
  commits with the entry): the caller's session.  A posting of its own from inside
  these would also wait on a lock its own session holds (the user row on PostgreSQL,
  the database write lock on SQLite).  They run once per account, purchase or admin
  action, not on a hot path.
- ``None`` (a posting of its own) is for a standalone posting whose caller holds no
  transaction: ``benchmarks/bench_ledger.py``, scripts, future batch grants.

Reservations: ``reserve`` moves credits into ``users.held`` (available
drops, total stays); exactly one settlement follows — ``capture`` (total and
held drop) or ``release`` (held drops).  Both settlements of one
reservation share the idempotency key ``settle:{job}:{n}``, so a job can
never be both charged and refunded, nor settled twice.

Checking every balance against its entries (and for orphaned holds) is
``lashme.credits.ledger_check``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from lashme.credits import posting_sql, postings
from lashme.errors import InsufficientCredits, NotFound
from lashme.models import LedgerEntry, LedgerKind, User, utcnow
from lashme.ops.db import get_engine

#: what a posting runs in: the caller's ORM session or Core connection (its transaction either way),
#: or None for a posting that is a transaction of its own
Executor = Session | Connection | None


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
    session: Executor,
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
    order_id: str | None = None,
    allow_overdraft: bool = False,
    unlock_id: int | None = None,
) -> tuple[LedgerEntry, bool]:
    """Append one ledger entry and apply it to the user's balance atomically (one round trip).

    Args:
        session: the caller's open session or Core connection (the caller commits), or None:
            the posting is committed by itself (one round trip on PostgreSQL).
        user_id: whose balance changes.
        delta: change of ``users.balance`` in credits (negative = spend).
        kind: what the entry records (``LedgerKind``).
        reason: human-readable reason shown in the ledger.
        actor: who caused it (``system``, ``user:{id}``, ``admin:{id}``).
        job_id: the job the entry belongs to, if any.
        variant_id: the variant the entry belongs to, if any.
        order_id: the credit-pack order the entry belongs to, if any.
        held_delta: change of ``users.held`` (positive = reserve).
        idempotency_key: unique key; a second call with it is a no-op.
        allow_overdraft: skip the ``balance - held >= 0`` guard (never used
            for user-initiated spends).
        unlock_id: the ``unlocks`` row this charge pays for (``lashme.credits.unlocks``): when
            the entry is created, the row's ``ledger_entry_id`` is set to it in the same
            statement (PostgreSQL; SQLite: one more statement).  Not set for a replay.

    Returns:
        ``(entry, created)``; ``created`` is False when the key already existed
        (``entry`` is then the earlier one).  The entry is a detached row object.

    Raises:
        InsufficientCredits: the change would make available credits negative.
        NotFound: no such user.
    """
    params = {
        "user_id": user_id,
        "delta": delta,
        "held_delta": held_delta,
        "idempotency_key": idempotency_key,
        **posting_sql.entry_params(
            kind=kind,
            reason=reason,
            actor=actor,
            job_id=job_id,
            variant_id=variant_id,
            order_id=order_id,
            created_at=utcnow(),
        ),
    }
    source = posting_sql.PLAIN
    if unlock_id is not None:
        params["unlock_id"] = unlock_id
        source = posting_sql.PLAIN_UNLOCK
    entry, created = _run(session, source, params, guarded=not allow_overdraft)
    assert entry is not None  # a plain source always has its row
    return entry, created


_USER_MAPPER = User.__mapper__  # type: ignore[attr-defined]


def _run(session: Executor, source: str, params: dict, *, guarded: bool) -> tuple[LedgerEntry | None, bool]:
    """Run one posting in the caller's transaction; map refusals to the ledger's errors."""
    if session is None:
        out = postings.run_alone(get_engine(), source, params, guarded=guarded)
    elif isinstance(session, Connection):
        out = postings.run(session, source, params, guarded=guarded)
    else:
        session.flush()  # pending ORM rows (a new user, a job) first, as an ORM statement's autoflush would
        out = postings.run(session.connection(), source, params, guarded=guarded)
        if out.created and out.entry is not None and session.identity_map:
            key = _USER_MAPPER.identity_key_from_primary_key((out.entry.user_id,))
            cached = session.identity_map.get(key)
            if cached is not None:
                session.expire(cached, ["balance", "held"])  # the UPDATE bypassed the ORM
    if out.user_missing:
        raise NotFound("auth.required")
    if out.refused:
        raise InsufficientCredits()
    return out.entry, out.created


def grant(
    session: Executor,
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


def entries(session: Session, user_id: int, *, limit: int = 50) -> list[LedgerEntry]:
    """The user's ``limit`` newest ledger entries, newest first (pages: ``lashme.app.credits``)."""
    return list(
        session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.user_id == user_id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        ).scalars()
    )


SETTLE_KINDS = (LedgerKind.CAPTURE, LedgerKind.RELEASE)


@dataclass(frozen=True)
class Reservation:
    """An open (unsettled) reservation of a job: ``amount`` credits held, round ``n`` (0, 1, ...)."""

    job_id: str
    user_id: int
    amount: int
    n: int


def _rounds(session: Session, job_id: str) -> tuple[list[LedgerEntry], int]:
    reserves = list(
        session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.job_id == job_id, LedgerEntry.kind == LedgerKind.RESERVE)
            .order_by(LedgerEntry.id)
        ).scalars()
    )
    settled = session.execute(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.job_id == job_id, LedgerEntry.kind.in_(SETTLE_KINDS))
    ).scalar_one()
    return reserves, settled


def open_reservation(session: Session, job_id: str) -> Reservation | None:
    """The job's reservation that has not been captured or released yet, if any."""
    reserves, settled = _rounds(session, job_id)
    if len(reserves) <= settled:
        return None
    entry = reserves[settled]
    return Reservation(job_id=job_id, user_id=entry.user_id, amount=entry.held_delta, n=settled)


def reserve(session: Executor, *, user_id: int, job_id: str, amount: int, reason: str) -> LedgerEntry | None:
    """Hold ``amount`` credits for ``job_id`` (available drops, total stays); one round trip.

    Idempotent: while the job has an open reservation, that one is returned.
    Round ``n`` (the number of rounds already settled; a failed job retried
    starts round 1, ...) has key ``reserve:{job}:{n}``; the round number is
    counted inside the posting statement.

    Returns:
        The reservation entry, or None when ``amount`` is 0.

    Raises:
        InsufficientCredits: available credits < ``amount``; nothing changes.
        NotFound: no such user.
    """
    if amount <= 0:
        return None
    params = {
        "user_id": user_id,
        "amount": amount,
        **posting_sql.entry_params(
            kind=LedgerKind.RESERVE,
            reason=reason,
            actor=f"user:{user_id}",
            job_id=job_id,
            variant_id=None,
            order_id=None,
            created_at=utcnow(),
        ),
    }
    entry, _ = _run(session, posting_sql.RESERVE, params, guarded=True)
    return entry


def settle(session: Executor, *, job_id: str, capture: bool, reason: str) -> LedgerEntry | None:
    """Capture (job DONE) or release (FAILED/CANCELED) the job's open reservation; one round trip.

    Capture: ``balance -= amount, held -= amount``.  Release: ``held -= amount``.
    Both use key ``settle:{job}:{n}``, so a reservation is settled exactly once,
    whatever races or replays happen.  The open round, its owner and amount are
    found inside the posting statement.

    Returns:
        The settlement entry (a racing twin's, if it won), or None when nothing is reserved.
    """
    params = {
        "cap": 1 if capture else 0,
        **posting_sql.entry_params(
            kind=LedgerKind.CAPTURE if capture else LedgerKind.RELEASE,
            reason=reason,
            actor="system",
            job_id=job_id,
            variant_id=None,
            order_id=None,
            created_at=utcnow(),
        ),
    }
    entry, _ = _run(session, posting_sql.SETTLE, params, guarded=True)
    return entry


def clawback(
    session: Session, *, user_id: int, wanted: int, reason: str, idempotency_key: str, order_id: str
) -> tuple[int, int]:
    """Take back up to ``wanted`` credits (a refunded purchase), never below zero available.

    The user row is locked first (``SELECT … FOR UPDATE`` on PostgreSQL; the
    SQLite write lock is already held), so the available balance read here is
    the one the debit applies to.

    Returns:
        ``(taken, shortfall)``: credits debited and credits that could not be taken
        by this call; a replay of the same ``idempotency_key`` changes nothing and returns ``(0, 0)``.
    """
    if find_entry(session, idempotency_key) is not None:
        return 0, 0
    if wanted <= 0:
        return 0, 0
    row = session.execute(select(User.balance, User.held).where(User.id == user_id).with_for_update()).first()
    if row is None:
        raise NotFound("auth.required")
    take = max(0, min(wanted, row[0] - row[1]))
    if take > 0:
        post(
            session,
            user_id=user_id,
            delta=-take,
            kind=LedgerKind.REFUND,
            reason=reason,
            idempotency_key=idempotency_key,
            order_id=order_id,
        )
    return take, wanted - take


def adjust(
    session: Executor, *, user_id: int, delta: int, reason: str, actor: str, idempotency_key: str
) -> LedgerEntry:
    """An admin's manual credit change (``admin_adjust``); removal stops at zero available.

    Raises:
        ValueError: ``delta`` is 0 or ``reason`` is blank.
        InsufficientCredits: the removal exceeds the available balance.
    """
    if delta == 0:
        raise ValueError("adjustment must not be zero")
    if not reason.strip():
        raise ValueError("a reason is required")
    entry, _ = post(
        session,
        user_id=user_id,
        delta=delta,
        kind=LedgerKind.ADMIN_ADJUST,
        reason=reason.strip()[:255],
        idempotency_key=idempotency_key,
        actor=actor,
    )
    return entry


def count_entries(session: Session, user_id: int) -> int:
    """How many ledger entries the user has (for pagination)."""
    return session.execute(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.user_id == user_id)
    ).scalar_one()
