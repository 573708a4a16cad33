"""The SQL of one ledger posting: its source row and the PostgreSQL one-statement shapes.

A posting is "append entry ``idempotency_key`` and apply ``delta``/``held_delta``
to the user's row, never below zero available, exactly once per key".  Its
*source* is one row ``(user_id, delta, held_delta, idempotency_key)``: given by
the caller (:data:`PLAIN`), or derived in SQL from the job's entries for a
reservation (:data:`RESERVE`) or its settlement (:data:`SETTLE`), so that the
round number in ``reserve:{job}:{n}`` / ``settle:{job}:{n}`` costs no extra query.

PostgreSQL runs it as ONE statement (data-modifying CTEs, SQLAlchemy Core)::

    WITH src AS (<source>),
         ex  AS (SELECT ledger_entries.id … WHERE idempotency_key = src.key),  -- a replay?
         upd AS (UPDATE users SET balance = balance + src.delta, held = held + src.held_delta
                 FROM src WHERE users.id = src.user_id AND NOT EXISTS (SELECT FROM ex)
                       AND <available and held stay >= 0>  RETURNING balance, held),
         ins AS (INSERT INTO ledger_entries (…, balance_after, held_after) SELECT … FROM src, upd
                 ON CONFLICT (idempotency_key) DO NOTHING RETURNING id)
    SELECT ins.id, upd.balance, upd.held, src.*, <user exists, probed only if upd is empty>, ex.id
    FROM (SELECT 1) one LEFT JOIN src, upd, ins, ex ON true

A :data:`PLAIN` posting (the caller gives the source row) runs a leaner statement of the
same protocol and result columns without the ``src``/``ex`` CTEs
(:func:`_pg_plain_statement`); :data:`PLAIN_UNLOCK` also links the unlock row it pays for.

SQLite has no data-modifying CTEs: there :func:`_statement` is the source SELECT alone and
``lashme.credits.postings`` runs the other steps as separate statements.  Statements are
built once per process (:func:`_statement`); running them, the replay/twin/refusal
protocol and the result are ``lashme.credits.postings``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql import Select

from lashme.models import LedgerEntry, LedgerKind, Unlock, User

USERS = User.__table__
ENTRIES = LedgerEntry.__table__
UNLOCKS = Unlock.__table__
#: settlement kinds of a reservation round
SETTLE_KINDS = (LedgerKind.CAPTURE.value, LedgerKind.RELEASE.value)
#: the entry columns the caller gives (besides the source row and the resulting balance)
_ENTRY_PARAMS = ("kind", "reason", "actor", "job_id", "variant_id", "order_id", "created_at")
_TYPES = {
    "user_id": Integer(),
    "delta": Integer(),
    "held_delta": Integer(),
    "amount": Integer(),
    "cap": Integer(),
    "idempotency_key": String(),
    "kind": String(),
    "reason": String(),
    "actor": String(),
    "job_id": String(),
    "variant_id": String(),
    "order_id": String(),
    "created_at": ENTRIES.c.created_at.type,
    "unlock_id": Integer(),
}


def _p(name: str):
    # "p_" prefix: a bind named like a column of the UPDATE's/INSERT's table would be taken as a value for it
    return bindparam(f"p_{name}", type_=_TYPES[name])


def _settled_rounds():
    """Scalar subquery: how many settlements (capture/release) the job ``:job_id`` has."""
    return (
        select(func.count())
        .select_from(ENTRIES)
        .where(ENTRIES.c.job_id == _p("job_id"), or_(*(ENTRIES.c.kind == k for k in SETTLE_KINDS)))
        .scalar_subquery()
    )


def _round_key(prefix: str, rounds) -> Any:
    return literal(prefix, String()) + _p("job_id") + literal(":", String()) + cast(rounds, String())


def _plain_source() -> Select:
    return select(
        _p("user_id").label("user_id"),
        _p("delta").label("delta"),
        _p("held_delta").label("held_delta"),
        _p("idempotency_key").label("idempotency_key"),
    )


def _reserve_source() -> Select:
    # round n = number of settled rounds: while round n is open, reserve:{job}:{n} exists and is returned
    return select(
        _p("user_id").label("user_id"),
        literal(0, Integer()).label("delta"),
        _p("amount").label("held_delta"),
        _round_key("reserve:", _settled_rounds()).label("idempotency_key"),
    )


def _settle_source() -> Select:
    # the open round n: its reservation entry is reserve:{job}:{n}; no such entry -> no row, nothing to settle
    res = ENTRIES.alias("res")
    n = _settled_rounds()
    return select(
        res.c.user_id.label("user_id"),
        (-res.c.held_delta * _p("cap")).label("delta"),
        (-res.c.held_delta).label("held_delta"),
        _round_key("settle:", n).label("idempotency_key"),
    ).where(res.c.idempotency_key == _round_key("reserve:", n))


PLAIN, RESERVE, SETTLE = "plain", "reserve", "settle"
#: :data:`PLAIN` that also sets ``unlocks.ledger_entry_id`` of row ``unlock_id`` to the new entry
#: (an unlock's charge: the claim's link costs no round trip of its own)
PLAIN_UNLOCK = "plain+unlock"
_SOURCES = {
    PLAIN: _plain_source,
    PLAIN_UNLOCK: _plain_source,
    RESERVE: _reserve_source,
    SETTLE: _settle_source,
}


def _guard(delta, held_delta):
    """Available (``balance - held``) and ``held`` stay >= 0 after the change."""
    return (
        USERS.c.balance + delta - (USERS.c.held + held_delta) >= 0,
        USERS.c.held + held_delta >= 0,
    )


def _link_unlock(ins) -> Any:
    """CTE: ``unlocks.ledger_entry_id`` of row ``:p_unlock_id`` := the entry ``ins`` inserted, if any."""
    return (
        update(UNLOCKS)
        .values(ledger_entry_id=ins.c.id)
        .where(UNLOCKS.c.id == _p("unlock_id"))
        .returning(UNLOCKS.c.id)
        .cte("lnk")
    )


def _pg_plain_statement(source: str, guarded: bool, skip_conflict: bool):
    """:data:`PLAIN` (and :data:`PLAIN_UNLOCK`) on PostgreSQL: the source row is the params themselves.

    The lean shape of :func:`_pg_statement` (same result columns, same protocol)::

        WITH upd AS (UPDATE users SET balance = balance + :delta, held = held + :held_delta
                     WHERE id = :user_id AND NOT EXISTS (<entry with :key>) AND <guard>
                     RETURNING balance, held),
             ins AS (INSERT INTO ledger_entries (…) SELECT :user_id, …, upd.balance, upd.held FROM upd
                     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id)
        SELECT ins.id, upd.balance, upd.held, :user_id, :delta, :held_delta, :key,
               CASE WHEN upd.balance IS NULL THEN EXISTS (<user>) ELSE true END,
               CASE WHEN upd.balance IS NULL THEN (SELECT id FROM <entry with :key>) END
        FROM (SELECT 1) one LEFT JOIN upd ON true LEFT JOIN ins ON true

    No ``src``/``ex`` CTEs and joins: ~30 µs less server CPU per posting than the general
    shape on this project's machine (``benchmarks/bench_ledger.py``).  The replay probe in the
    UPDATE's ``NOT EXISTS`` and the one in the last column see the statement's snapshot,
    like the general shape's ``ex``; the last column is evaluated only when nothing was
    updated (a replay, a refusal or a missing user), as is the user probe.
    """
    user_id, delta, held_delta, key = _p("user_id"), _p("delta"), _p("held_delta"), _p("idempotency_key")
    replayed = exists(select(ENTRIES.c.id).where(ENTRIES.c.idempotency_key == key))
    upd_q = (
        update(USERS)
        .values(balance=USERS.c.balance + delta, held=USERS.c.held + held_delta)
        .where(USERS.c.id == user_id, ~replayed)
    )
    if guarded:
        upd_q = upd_q.where(*_guard(delta, held_delta))
    upd = upd_q.returning(USERS.c.balance, USERS.c.held).cte("upd")
    ins = pg_insert(ENTRIES).from_select(
        ["user_id", "delta", "held_delta", "idempotency_key", "balance_after", "held_after", *_ENTRY_PARAMS],
        select(
            user_id, delta, held_delta, key, upd.c.balance, upd.c.held, *(_p(name) for name in _ENTRY_PARAMS)
        ).select_from(upd),
    )
    if skip_conflict:  # in a transaction: a twin's key must not abort it (see ``postings._run_pg``)
        ins = ins.on_conflict_do_nothing(index_elements=["idempotency_key"])
    ins = ins.returning(ENTRIES.c.id).cte("ins")
    one = select(literal(1, Integer()).label("one")).subquery("one")
    missed = upd.c.balance.is_(None)
    stmt = select(
        ins.c.id.label("new_id"),
        upd.c.balance.label("upd_balance"),
        upd.c.held.label("upd_held"),
        user_id.label("src_user_id"),
        delta.label("src_delta"),
        held_delta.label("src_held_delta"),
        key.label("src_key"),
        case((missed, exists(select(USERS.c.id).where(USERS.c.id == user_id))), else_=true()).label(
            "user_exists"
        ),
        case((missed, select(ENTRIES.c.id).where(ENTRIES.c.idempotency_key == key).scalar_subquery())).label(
            "ex_id"
        ),
    ).select_from(one.outerjoin(upd, true()).outerjoin(ins, true()))
    if source == PLAIN_UNLOCK:  # link the unlock to its charge in the same statement: one round trip less
        stmt = stmt.add_cte(_link_unlock(ins))
    return stmt


def _pg_statement(source: str, guarded: bool, skip_conflict: bool = True):
    if source in (PLAIN, PLAIN_UNLOCK):
        return _pg_plain_statement(source, guarded, skip_conflict)
    src = _SOURCES[source]().cte("src")
    ex = select(ENTRIES.c.id).join(src, ENTRIES.c.idempotency_key == src.c.idempotency_key).cte("ex")
    upd_q = (
        update(USERS)
        .values(balance=USERS.c.balance + src.c.delta, held=USERS.c.held + src.c.held_delta)
        .where(USERS.c.id == src.c.user_id, ~exists(select(ex.c.id)))
    )
    if guarded:
        upd_q = upd_q.where(*_guard(src.c.delta, src.c.held_delta))
    upd = upd_q.returning(USERS.c.balance, USERS.c.held).cte("upd")
    ins = (
        pg_insert(ENTRIES)
        .from_select(
            [
                "user_id",
                "delta",
                "held_delta",
                "idempotency_key",
                "balance_after",
                "held_after",
                *_ENTRY_PARAMS,
            ],
            select(
                src.c.user_id,
                src.c.delta,
                src.c.held_delta,
                src.c.idempotency_key,
                upd.c.balance,
                upd.c.held,
                *(_p(name) for name in _ENTRY_PARAMS),
            ).join_from(src, upd, true()),
        )
    )
    if skip_conflict:  # in a transaction: a twin's key must not abort it (see ``postings._run_pg``)
        ins = ins.on_conflict_do_nothing(index_elements=["idempotency_key"])
    ins = ins.returning(ENTRIES.c.id).cte("ins")
    one = select(literal(1, Integer()).label("one")).subquery("one")
    # only probed when nothing was updated (CASE evaluates the subquery lazily): the usual posting skips it
    user_exists = case(
        (upd.c.balance.is_(None), exists(select(USERS.c.id).where(USERS.c.id == src.c.user_id))),
        else_=true(),
    )
    return select(
        ins.c.id.label("new_id"),
        upd.c.balance.label("upd_balance"),
        upd.c.held.label("upd_held"),
        src.c.user_id.label("src_user_id"),
        src.c.delta.label("src_delta"),
        src.c.held_delta.label("src_held_delta"),
        src.c.idempotency_key.label("src_key"),
        user_exists.label("user_exists"),
        ex.c.id.label("ex_id"),
    ).select_from(
        one.outerjoin(src, true()).outerjoin(upd, true()).outerjoin(ins, true()).outerjoin(ex, true())
    )


_cache: dict[tuple, Any] = {}


def _statement(dialect: str, source: str, guarded: bool, skip_conflict: bool = True):
    key = (dialect, source, guarded, skip_conflict)
    stmt = _cache.get(key)
    if stmt is None:
        stmt = _cache[key] = (
            _pg_statement(source, guarded, skip_conflict) if dialect == "postgresql" else _SOURCES[source]()
        )
    return stmt


def entry_params(
    *,
    kind: LedgerKind,
    reason: str,
    actor: str,
    job_id: str | None,
    variant_id: str | None,
    order_id: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    """The caller-given entry columns as statement params."""
    return {
        "kind": LedgerKind(kind).value,
        "reason": reason,
        "actor": actor,
        "job_id": job_id,
        "variant_id": variant_id,
        "order_id": order_id,
        "created_at": created_at,
    }
