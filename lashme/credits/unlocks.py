"""Unlocking a variant's full-resolution files: 1 credit (``unlock_cost``) per variant, once.

The charge and the ``unlocks`` row are written in one transaction: the
ledger's conditional UPDATE guards the balance, and the unique
``(user_id, variant_id)`` constraint (claimed first) plus the idempotency key
``unlock:{user_id}:{variant_id}`` make a second, racing unlock of the same
variant a free no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Select, bindparam, delete, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from lashme.credits import ledger, pricing
from lashme.credits.detached import detached_row
from lashme.errors import DomainError, InsufficientCredits, NotFound
from lashme.models import Job, JobStatus, LedgerKind, PriceSetting, Unlock, User, Variant, utcnow
from lashme.ops.db import run_compiled


@dataclass(frozen=True)
class UnlockResult:
    """``charged`` is False when the variant was already unlocked (re-download is free)."""

    unlock: Unlock
    charged: bool
    balance: ledger.Balance
    #: credits this call charged (0 when free)
    cost: int = 0


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


def unlock_variant(
    session: Session | Connection, *, user_id: int, variant_id: str, cost: int | None
) -> UnlockResult:
    """Charge ``cost`` credits and record the unlock; free if already unlocked.

    Runs in the caller's transaction: an ORM ``Session`` or, lighter, a Core
    ``Connection`` (``lashme.ops.db.connection_scope``; what ``lashme.app.variant.unlock``
    uses).  Every statement is SQLAlchemy Core, no ORM objects are loaded.

    Round trips: one statement checks ownership and readiness, reads (with ``cost=None``)
    the current ``unlock_cost`` price and, when the checks pass, claims the ``unlocks``
    row (``INSERT … ON CONFLICT DO NOTHING``: a racing twin of the same variant waits
    here and then finds it taken, free) — on PostgreSQL one statement with a
    data-modifying CTE, on SQLite a ``SELECT`` then the ``INSERT``; one ledger posting,
    which also sets the row's ``ledger_entry_id`` (``ledger.post(unlock_id=…)``, the same
    statement on PostgreSQL).  A refused charge removes the claimed row again before
    :class:`InsufficientCredits` propagates, so a caller that catches it and
    commits leaves nothing behind.

    Why not a posting of its own (``ledger.post(None, …)``): the charge and the
    ``unlocks`` row must commit together — a charge without its row is a paid
    variant that stays locked until the user retries, and a posting outside this
    transaction would wait on the row lock (PostgreSQL) or write lock (SQLite)
    this transaction already holds.

    Args:
        session: the caller's open session or Core connection (the caller commits).
        user_id: the signed-in buyer; the variant's job must be hers.
        variant_id: the variant to unlock.
        cost: credits to charge, or None: the current ``unlock_cost`` read in the same
            statement as the ownership check (``pricing.PRICE_KEYS`` default when unset).

    Raises:
        NotFound: ``variant.not_found`` (missing, not the user's) or
            ``variant.not_ready`` (filtered, or its job is not DONE).
        DomainError: ``variant.altered``: the fidelity guard found it reshapes the work
            (``Variant.altered``); it is never sold, nothing changes.
        InsufficientCredits: available balance < ``cost``; nothing changes.
    """
    if user_id is None or not variant_id or len(variant_id) > 32:
        raise NotFound("variant.not_found")
    if isinstance(session, Connection):
        conn = session
    else:
        session.flush()
        conn = session.connection()
    now = utcnow()
    binds = {"user_id": user_id, "variant_id": variant_id, "created_at": now}
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # check and claim in one statement: the claim only when the checks pass
        found = run_compiled(conn, _check_and_claim(with_price=cost is None), binds)
        row = SimpleNamespace(**found) if found is not None else None
    else:
        row = conn.execute(_variant_query(with_price=cost is None), binds).first()
    if row is None or row.user_id != user_id:
        raise NotFound("variant.not_found")
    if row.status != JobStatus.DONE or row.filtered or not row.preview_key:
        raise NotFound("variant.not_ready")
    if row.altered:
        raise DomainError("variant.altered")
    if cost is None:
        cost = int(row.price) if row.price is not None else pricing.PRICE_KEYS["unlock_cost"][0]
    if postgres:
        unlock_id = row.unlock_id
    else:
        unlock_id = conn.execute(_claim_statement(conn.dialect.name), binds).scalar()
    if unlock_id is None:  # unlocked before (or by a twin that just committed): free
        existing = conn.execute(
            select(_UNLOCKS).where(_UNLOCKS.c.user_id == user_id, _UNLOCKS.c.variant_id == variant_id)
        ).one()
        return UnlockResult(detached_row(Unlock, dict(existing._mapping)), False, _balance(conn, user_id), 0)
    if cost <= 0:
        unlock = _unlock_row(unlock_id, user_id, variant_id, None, now)
        return UnlockResult(unlock, True, _balance(conn, user_id), 0)
    executor: Session | Connection = conn if isinstance(session, Connection) else session
    try:
        entry, created = ledger.post(
            executor,
            user_id=user_id,
            delta=-cost,
            kind=LedgerKind.UNLOCK,
            reason=f"Unlocked variant {row.index + 1} ({row.preset})",
            idempotency_key=f"unlock:{user_id}:{variant_id}",
            actor=f"user:{user_id}",
            job_id=row.job_id,
            variant_id=variant_id,
            unlock_id=unlock_id,  # a new entry is linked to the claimed row by the posting itself
        )
    except InsufficientCredits:
        conn.execute(delete(_UNLOCKS).where(_UNLOCKS.c.id == unlock_id))
        raise
    if not created:  # the key was posted before (a replay): link the claim to that entry
        run_compiled(conn, _LINK, {"unlock_id": unlock_id, "entry_id": entry.id})
    unlock = _unlock_row(unlock_id, user_id, variant_id, entry.id, now)
    return UnlockResult(
        unlock,
        created,
        ledger.Balance(total=entry.balance_after, held=entry.held_after),
        cost if created else 0,
    )


def _unlock_row(
    unlock_id: int, user_id: int, variant_id: str, entry_id: int | None, created_at: datetime
) -> Unlock:
    # the row just written, as a detached object without pydantic validation (~20 µs less per unlock)
    return detached_row(
        Unlock,
        {
            "id": unlock_id,
            "user_id": user_id,
            "variant_id": variant_id,
            "ledger_entry_id": entry_id,
            "created_at": created_at,
        },
    )


_VARIANTS = Variant.__table__
_JOBS = Job.__table__
_PRICES = PriceSetting.__table__
_queries: dict[bool, Select] = {}


def _variant_query(*, with_price: bool) -> Select:
    """The variant's owner, readiness and (``with_price``) the current ``unlock_cost``: one statement."""
    query = _queries.get(with_price)
    if query is None:
        cols = [
            _VARIANTS.c.index,
            _VARIANTS.c.preset,
            _VARIANTS.c.filtered,
            _VARIANTS.c.preview_key,
            _VARIANTS.c.altered,
            _JOBS.c.id.label("job_id"),
            _JOBS.c.user_id,
            _JOBS.c.status,
        ]
        if with_price:
            cols.append(
                select(_PRICES.c.value).where(_PRICES.c.key == "unlock_cost").scalar_subquery().label("price")
            )
        query = _queries[with_price] = (
            select(*cols)
            .select_from(_VARIANTS.join(_JOBS, _JOBS.c.id == _VARIANTS.c.job_id))
            .where(_VARIANTS.c.id == bindparam("variant_id"))
        )
    return query


_pg_queries: dict[bool, Select] = {}


def _check_and_claim(*, with_price: bool) -> Select:
    """PostgreSQL, one statement: :func:`_variant_query`'s row plus ``unlock_id``.

    ``unlock_id`` is the id of the ``unlocks`` row claimed for (``user_id``, ``variant_id``)
    when the variant is the user's and sellable; None when it was claimed before or is not
    claimable (the row's columns say why).
    """
    query = _pg_queries.get(with_price)
    if query is None:
        v = _variant_query(with_price=with_price).add_columns(_VARIANTS.c.id.label("variant_id")).cte("v")
        sellable = select(
            v.c.user_id, v.c.variant_id, bindparam("created_at", type_=_UNLOCKS.c.created_at.type)
        ).where(
            v.c.user_id == bindparam("user_id"),
            v.c.status == JobStatus.DONE.value,
            v.c.filtered.is_not(True),
            v.c.preview_key.is_not(None),
            v.c.altered.is_not(True),
        )
        claim = (
            pg_insert(_UNLOCKS)
            .from_select(["user_id", "variant_id", "created_at"], sellable)
            .on_conflict_do_nothing(index_elements=["user_id", "variant_id"])
            .returning(_UNLOCKS.c.id)
            .cte("claim")
        )
        query = _pg_queries[with_price] = select(v, claim.c.id.label("unlock_id")).select_from(
            v.outerjoin(claim, true())
        )
    return query


def _balance(conn: Connection, user_id: int) -> ledger.Balance:
    row = conn.execute(select(_USERS.c.balance, _USERS.c.held).where(_USERS.c.id == user_id)).one()
    return ledger.Balance(total=row[0], held=row[1])


_UNLOCKS = Unlock.__table__
_USERS = User.__table__
_LINK = (
    update(_UNLOCKS)
    .where(_UNLOCKS.c.id == bindparam("unlock_id"))
    .values(ledger_entry_id=bindparam("entry_id"))
)


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
