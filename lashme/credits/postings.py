"""Running one ledger posting: the SQL behind :func:`lashme.credits.ledger.post`, and what it did.

:func:`run` posts inside the caller's transaction, :func:`run_alone` as a transaction of
its own; both return an :class:`Outcome`.  The statements themselves (the source names
:data:`PLAIN`, :data:`RESERVE`, … their rows and the PostgreSQL shapes) are built in
``lashme.credits.posting_sql``.

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
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from lashme.credits.detached import detached_entry
from lashme.credits.posting_sql import (
    _ENTRY_PARAMS,
    ENTRIES,
    PLAIN_UNLOCK,
    UNLOCKS,
    USERS,
    _guard,
    _statement,
)
from lashme.models import LedgerEntry, LedgerKind

#: compiled PostgreSQL SQL per statement variant, and the entry-by-id SELECT
_cache: dict[tuple, Any] = {}


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
