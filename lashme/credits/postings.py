"""One ledger posting in one round trip: the SQL behind :func:`lashme.credits.ledger.post`.

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

A replay (``ex`` found) changes nothing and reads the earlier entry with a
second, plain SELECT: replays are rare and not worth wider rows on every posting.
The statement is built and compiled by SQLAlchemy Core once per process and
runs on the connection's own DBAPI connection, inside the caller's transaction
(see :func:`_execute_pg` for why not through ``Connection.execute``).

The UPDATE takes the user's row lock and checks the guard on the newest row
version (READ COMMITTED re-check), so racing spends cannot both pass.  A twin
with the same key that committed after this statement's snapshot is caught by
``ON CONFLICT`` (which sees committed rows); the statement then reports "balance
updated, nothing inserted" and :func:`run` reverses its own UPDATE in a second
statement of the same transaction (still under the row lock, so nobody ever
sees it) and returns the twin.  That is the only path with more than one round trip.

SQLite has no data-modifying CTEs; there the same steps run as up to three short
statements.  Every SQLite transaction holds the database write lock from its
``BEGIN IMMEDIATE`` (``lashme.ops.db``), so nothing can interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Integer,
    String,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql import Select

from lashme.models import LedgerEntry, LedgerKind, Unlock, User

_M = TypeVar("_M")
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
    if skip_conflict:  # in a transaction: a twin's key must not abort it (see :func:`_run_pg`)
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
    if skip_conflict:  # in a transaction: a twin's key must not abort it (see :func:`_run_pg`)
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


@dataclass(frozen=True)
class Outcome:
    """What one posting did.

    ``entry`` is None only when the source had no row (nothing to settle).
    ``created`` is False for a replayed key (``entry`` is the earlier one).
    ``user_missing``/``refused`` say why nothing was posted (no such user / guard failed).
    """

    entry: LedgerEntry | None
    created: bool
    user_missing: bool = False
    refused: bool = False


_builders: dict[type, tuple[Any, tuple[str, ...]]] = {}


def detached_row(model: type[_M], values: dict[str, Any]) -> _M:
    """A transient instance of table model ``model`` holding ``values`` (every column), unvalidated.

    ``model(**values)`` costs ~20–120 µs (instrumented attribute events, pydantic
    bookkeeping); this costs ~4 µs and gives an equal object (same ``model_dump()``, a
    transient SQLAlchemy instance).  For values that come from the database or were just
    written to it, so there is nothing to validate.

    Raises:
        KeyError: a column of ``model`` is missing from ``values``.
    """
    built = _builders.get(model)
    if built is None:
        built = _builders[model] = (
            manager_of_class(model).new_instance,
            tuple(c.name for c in model.__table__.c),  # type: ignore[attr-defined]
        )
    new_instance, columns = built
    obj = new_instance()
    obj.__dict__.update((name, values[name]) for name in columns)
    object.__setattr__(obj, "__pydantic_fields_set__", set(columns))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def detached_entry(values: dict[str, Any]) -> LedgerEntry:
    """A transient :class:`LedgerEntry` holding ``values`` (every column): :func:`detached_row`."""
    return detached_row(LedgerEntry, values)


def _entry_from(row: Any) -> LedgerEntry:
    return _entry_from_values(dict(row._mapping))


def _get(conn: Connection, entry_id: int) -> LedgerEntry:
    return _entry_from(conn.execute(select(ENTRIES).where(ENTRIES.c.id == entry_id)).one())


def _find(conn: Connection, key: str) -> LedgerEntry | None:
    row = conn.execute(select(ENTRIES).where(ENTRIES.c.idempotency_key == key)).first()
    return _entry_from(row) if row is not None else None


def run(conn: Connection, source: str, params: dict[str, Any], *, guarded: bool) -> Outcome:
    """Post one entry on ``conn`` (inside the caller's transaction).

    Args:
        conn: the transaction's connection: ``session.connection()`` or a Core ``Connection``.
        source: :data:`PLAIN` (params ``user_id``, ``delta``, ``held_delta``, ``idempotency_key``),
            :data:`PLAIN_UNLOCK` (those plus ``unlock_id``: when the entry is created, that
            ``unlocks`` row's ``ledger_entry_id`` is set to it in the same statement),
            :data:`RESERVE` (``user_id``, ``amount``, ``job_id``) or :data:`SETTLE` (``job_id``,
            ``cap`` = 1 to capture, 0 to release).
        params: the source's params plus ``kind``, ``reason``, ``actor``, ``job_id``, ``variant_id``,
            ``order_id``, ``created_at`` (aware UTC datetime).
        guarded: refuse a change that would make available credits or ``held`` negative.

    Returns:
        The :class:`Outcome`; nothing is changed unless ``created`` (a replay or a twin's
        entry links no ``unlocks`` row either).
    """
    binds = {f"p_{k}": v for k, v in params.items()}
    if conn.dialect.name == "postgresql":
        return _run_pg(conn, _compiled_pg(conn, source, guarded), binds, params)
    stmt = _statement(conn.dialect.name, source, guarded)
    return _run_stepwise(conn, stmt, binds, params, guarded=guarded, link=source == PLAIN_UNLOCK)


class _Row:
    """The PostgreSQL statement's one result row, by name."""

    __slots__ = _PG_COLUMNS = (
        "new_id",
        "upd_balance",
        "upd_held",
        "src_user_id",
        "src_delta",
        "src_held_delta",
        "src_key",
        "user_exists",
        "ex_id",
    )

    def __init__(self, values: tuple) -> None:
        for name, value in zip(self._PG_COLUMNS, values, strict=True):
            setattr(self, name, value)


@dataclass(frozen=True)
class _CompiledPg:
    sql: str
    constants: dict[str, Any]  # binds SQLAlchemy made for literals (``>= 0``, ``SELECT 1``)


def _compiled_pg(
    conn: Connection | Engine, source: str, guarded: bool, skip_conflict: bool = True
) -> _CompiledPg:
    key = ("postgresql-sql", source, guarded, skip_conflict)
    compiled = _cache.get(key)
    if compiled is None:
        stmt = _statement("postgresql", source, guarded, skip_conflict)
        c = stmt.compile(dialect=conn.dialect)
        if c.positiontup or "POSTCOMPILE" in str(c):  # pragma: no cover - guards edits of the statement
            raise RuntimeError("the posting statement needs named parameters and no expanding IN")
        names = [col.key for col in stmt.selected_columns]
        if tuple(names) != _Row._PG_COLUMNS:  # pragma: no cover - guards edits of the statement
            raise RuntimeError(f"posting statement columns changed: {names}")
        consts = {k: v for k, v in c.params.items() if not k.startswith("p_")}
        compiled = _cache[key] = _CompiledPg(str(c), consts)
    return compiled


def _execute_pg(conn: Connection, compiled: _CompiledPg, binds: dict[str, Any]) -> _Row:
    """Run the compiled statement on the connection's own DBAPI connection (same transaction).

    The statement is built and compiled by SQLAlchemy Core once per process;
    running it through ``Connection.execute`` would add ~0.2 ms of CPU per
    posting (execution context, result metadata for a CTE), as much as the
    database needs for the whole posting.  A DBAPI error is wrapped like
    SQLAlchemy does and a lost connection is invalidated, so the pool never
    hands it out again.
    """
    params = {**compiled.constants, **binds}
    dbapi = conn.dialect.loaded_dbapi
    try:
        with conn.connection.cursor() as cur:
            cur.execute(compiled.sql, params)
            return _Row(cur.fetchone())
    except dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None):
            conn.invalidate(exc)
        raise DBAPIError.instance(compiled.sql, params, exc, dbapi.Error) from exc


def _run_pg(
    conn: Connection, compiled: _CompiledPg, binds: dict[str, Any], params: dict[str, Any]
) -> Outcome:
    row = _execute_pg(conn, compiled, binds)
    if row.ex_id is not None:  # a replay: nothing posted; read the earlier entry (not a hot path)
        return Outcome(_get(conn, row.ex_id), False)
    if row.src_user_id is None:
        return Outcome(None, False)
    if row.new_id is not None:
        return Outcome(_new_entry(row.new_id, row, params, row.upd_balance, row.upd_held), True)
    if row.upd_balance is not None:
        # a twin committed the same key after our snapshot: take back our UPDATE (row still locked by us)
        conn.execute(
            update(USERS)
            .values(balance=USERS.c.balance - row.src_delta, held=USERS.c.held - row.src_held_delta)
            .where(USERS.c.id == row.src_user_id)
        )
        twin = _find(conn, row.src_key)
        if twin is None:  # pragma: no cover - ON CONFLICT saw a committed row that must be visible now
            raise RuntimeError(f"ledger entry {row.src_key!r} conflicted but cannot be read")
        return Outcome(twin, False)
    if not row.user_exists:
        return Outcome(None, False, user_missing=True)
    return Outcome(None, False, refused=True)


#: re-runs of a posting of its own after a twin committed its key first (a re-run sees the twin)
_ALONE_ATTEMPTS = 3
#: PostgreSQL's SQLSTATE for a unique violation
_UNIQUE_VIOLATION = "23505"


def run_alone(engine: Engine, source: str, params: dict[str, Any], *, guarded: bool) -> Outcome:
    """Post one entry as a transaction of its own: the caller holds no transaction.

    PostgreSQL: the posting statement runs by itself in autocommit mode on a pooled
    connection, so replay check, guarded UPDATE, INSERT and commit are ONE round trip
    (inside a caller's transaction a posting also pays for BEGIN and COMMIT).  This
    variant of the statement has no ``ON CONFLICT``: when a twin committed the same
    key after the statement's snapshot, its INSERT fails with a unique violation,
    which undoes the whole statement (its UPDATE included) atomically; the statement
    then runs again and finds the twin as a replay.  SQLite: :func:`run` between
    ``BEGIN IMMEDIATE`` and ``COMMIT``.

    Args:
        engine: the engine whose pool lends the connection.
        source: as :func:`run`.
        params: as :func:`run`.
        guarded: as :func:`run`.

    Returns:
        The :class:`Outcome` (as :func:`run`), already committed.

    Raises:
        sqlalchemy.exc.DBAPIError: a database error; a lost connection is invalidated.
    """
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            return run(conn, source, params, guarded=guarded)
    compiled = _compiled_pg(engine, source, guarded, skip_conflict=False)
    binds = {**compiled.constants, **{f"p_{k}": v for k, v in params.items()}}
    dbapi = engine.dialect.loaded_dbapi
    fairy = engine.raw_connection()
    driver = fairy.driver_connection
    try:
        driver.autocommit = True  # the pool lends connections outside any transaction
        return _post_alone(engine, driver, compiled.sql, binds, params)
    except dbapi.Error as exc:
        if engine.dialect.is_disconnect(exc, fairy.dbapi_connection, None):
            fairy.invalidate(exc)
        raise DBAPIError.instance(compiled.sql, binds, exc, dbapi.Error) from exc
    finally:
        if fairy.is_valid:
            try:
                driver.autocommit = False
            except dbapi.Error as exc:  # never lend an autocommit connection to a transaction
                fairy.invalidate(exc)
        fairy.close()


def _post_alone(
    engine: Engine, driver: Any, sql: str, binds: dict[str, Any], params: dict[str, Any]
) -> Outcome:
    """:func:`run_alone`'s statement on an autocommit DBAPI connection, re-run after a twin's conflict."""
    dbapi = engine.dialect.loaded_dbapi
    for _ in range(_ALONE_ATTEMPTS):
        try:
            with driver.cursor() as cur:
                cur.execute(sql, binds)
                row = _Row(cur.fetchone())
            break
        except dbapi.Error as exc:
            if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
    else:  # pragma: no cover - each re-run sees the committed twin
        raise RuntimeError("a ledger posting kept conflicting with its twins")
    if row.ex_id is not None:  # a replay: read the earlier entry (autocommit: no transaction left open)
        with driver.cursor() as cur:
            cur.execute(_entry_by_id_sql(engine), {"p_id": row.ex_id})
            names = [d.name for d in cur.description]
            return Outcome(_entry_from_values(dict(zip(names, cur.fetchone(), strict=True))), False)
    if row.src_user_id is None:
        return Outcome(None, False)
    if row.new_id is not None:
        return Outcome(_new_entry(row.new_id, row, params, row.upd_balance, row.upd_held), True)
    if not row.user_exists:
        return Outcome(None, False, user_missing=True)
    return Outcome(None, False, refused=True)


def _entry_by_id_sql(engine: Engine) -> str:
    sql = _cache.get("entry-by-id")
    if sql is None:
        stmt = select(ENTRIES).where(ENTRIES.c.id == bindparam("p_id", type_=Integer()))
        sql = _cache["entry-by-id"] = str(stmt.compile(dialect=engine.dialect))
    return sql


def _entry_from_values(values: dict[str, Any]) -> LedgerEntry:
    values["kind"] = LedgerKind(values["kind"])
    return detached_entry(values)


def _new_entry(new_id: int, src: Any, params: dict[str, Any], balance: int, held: int) -> LedgerEntry:
    return detached_entry(
        {
            "id": new_id,
            "user_id": src.src_user_id,
            "delta": src.src_delta,
            "held_delta": src.src_held_delta,
            "idempotency_key": src.src_key,
            "balance_after": balance,
            "held_after": held,
            "kind": LedgerKind(params["kind"]),
            "reason": params["reason"],
            "actor": params["actor"],
            "job_id": params["job_id"],
            "variant_id": params["variant_id"],
            "order_id": params["order_id"],
            "created_at": params["created_at"],
        }
    )


@dataclass(frozen=True)
class _Src:
    src_user_id: int
    src_delta: int
    src_held_delta: int
    src_key: str


def _run_stepwise(
    conn: Connection, source_stmt, binds: dict[str, Any], params: dict[str, Any], *, guarded: bool, link: bool
) -> Outcome:
    """SQLite: the same posting as separate statements under the transaction's write lock."""
    row = conn.execute(source_stmt, binds).first()
    if row is None:
        return Outcome(None, False)
    src = _Src(row.user_id, row.delta, row.held_delta, row.idempotency_key)
    existing = _find(conn, src.src_key)
    if existing is not None:
        return Outcome(existing, False)
    upd = (
        update(USERS)
        .values(balance=USERS.c.balance + src.src_delta, held=USERS.c.held + src.src_held_delta)
        .where(USERS.c.id == src.src_user_id)
    )
    if guarded:
        upd = upd.where(*_guard(src.src_delta, src.src_held_delta))
    after = conn.execute(upd.returning(USERS.c.balance, USERS.c.held)).first()
    if after is None:
        missing = conn.execute(select(USERS.c.id).where(USERS.c.id == src.src_user_id)).first() is None
        return Outcome(None, False, user_missing=missing, refused=not missing)
    values = {name: params[name] for name in _ENTRY_PARAMS}
    new_id = conn.execute(
        insert(ENTRIES)
        .values(
            user_id=src.src_user_id,
            delta=src.src_delta,
            held_delta=src.src_held_delta,
            idempotency_key=src.src_key,
            balance_after=after[0],
            held_after=after[1],
            **values,
        )
        .returning(ENTRIES.c.id)
    ).scalar_one()
    if link:
        conn.execute(
            update(UNLOCKS).values(ledger_entry_id=new_id).where(UNLOCKS.c.id == params["unlock_id"])
        )
    return Outcome(_new_entry(new_id, src, params, after[0], after[1]), True)


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
