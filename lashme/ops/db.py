"""Database engine and session scope shared by web, worker and CLI.

SQLite (the embedded default) runs every transaction as ``BEGIN IMMEDIATE``
in WAL mode with a busy timeout, so concurrent writers queue for the write
lock instead of failing with "database is locked" on lock upgrade.
PostgreSQL uses its defaults (READ COMMITTED); the ledger relies on row
locks taken by conditional ``UPDATE`` statements there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlmodel import Session, create_engine

from lashme.ops.settings import get_settings


def _py_lower(value):
    return value.lower() if isinstance(value, str) else value


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` (``sqlite:///…`` or ``postgresql+psycopg://…``).

    Raises:
        sqlalchemy.exc.ArgumentError: if the URL is malformed.
    """
    if url.startswith("sqlite"):
        db_path = make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - driver hook
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # SQLite's built-in lower() folds ASCII only; use Python's so searches
            # are case-insensitive for Cyrillic too (as on PostgreSQL)
            dbapi_conn.create_function("lower", 1, _py_lower, deterministic=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - driver hook
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_use_lifo=True)
    _ping_when_idle(engine)
    return engine


#: a pooled connection idle longer than this (s) is pinged before use
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling that costs nothing on a busy pool.

    ``pool_pre_ping`` pings on *every* checkout: one extra round trip per transaction,
    a third of a one-statement ledger posting.  Here only a connection that sat idle
    longer than :data:`PING_AFTER_IDLE_SECONDS` is pinged; a dead one raises
    ``DisconnectionError``, on which the pool discards it and retries with a new
    connection (SQLAlchemy, "Disconnect Handling - Pessimistic", custom checkout
    ping).  A connection that breaks mid-transaction is invalidated by SQLAlchemy as usual.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn, record):  # pragma: no cover - pool hook
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):  # pragma: no cover - pool hook
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as exc:  # noqa: BLE001 - any failure means a dead connection
            raise DisconnectionError(str(exc)) from exc


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().resolved_database_url)


@contextmanager
def connection_scope(engine: Engine | None = None) -> Iterator[Connection]:
    """A Core connection in one transaction: commits on success, rolls back on any exception.

    The lighter sibling of :func:`session_scope` for work that needs no ORM objects,
    such as ledger postings (``lashme.credits.ledger`` takes either): no ``Session``,
    identity map or flush bookkeeping, ~0.1 ms less client CPU per transaction on
    this project's two-core machine (``benchmarks/bench_ledger.py`` compares both).
    SQLite takes its write lock at ``BEGIN IMMEDIATE`` here too.
    """
    with (engine or get_engine()).begin() as conn:
        yield conn


class _Compiled:
    """A statement compiled for the driver: SQL, literal binds, result column names (None before a run)."""

    __slots__ = ("sql", "constants", "names")

    def __init__(self, sql: str, constants: dict[str, Any]) -> None:
        self.sql = sql
        self.constants = constants
        self.names: tuple[str, ...] | None = None


_compiled: dict[tuple[int, str], _Compiled] = {}


def run_compiled(conn: Connection, stmt: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    """Run a module-level cached Core statement on ``conn``'s own DBAPI cursor (same transaction).

    PostgreSQL hot paths (the unlock): the statement is compiled once per process and
    run on the driver's cursor, skipping ``Connection.execute``'s per-call work
    (cache-key generation, execution context, result metadata: ~0.1–0.3 ms of CPU per
    statement on this project's two-core machine).  The result's column names are read
    once per statement too (``cursor.description`` builds column objects, ~9 µs for 12
    columns).  ``stmt`` must be built once and kept
    (its ``id`` keys the cache), take only named ``bindparam``s given in ``params``, have
    no expanding ``IN`` and need no bind or result type processing (ints, strings,
    datetimes).  Other dialects run it through ``Connection.execute``.  A DBAPI error is
    wrapped like SQLAlchemy does and a lost connection is invalidated.

    Returns:
        The first result row as a dict by column name, or None (no row or no result).
    """
    if conn.dialect.name != "postgresql":
        result = conn.execute(stmt, params)
        row = result.mappings().first() if result.returns_rows else None
        return dict(row) if row is not None else None
    key = (id(stmt), conn.dialect.name)
    entry = _compiled.get(key)
    if entry is None:
        compiled = stmt.compile(dialect=conn.dialect)
        if compiled.positiontup or "POSTCOMPILE" in str(compiled):  # pragma: no cover - the contract above
            raise RuntimeError("run_compiled needs a statement with named parameters")
        entry = _compiled[key] = _Compiled(str(compiled), dict(compiled.params))
    binds = {**entry.constants, **params}
    dbapi = conn.dialect.loaded_dbapi
    try:
        with conn.connection.cursor() as cur:
            cur.execute(entry.sql, binds)
            names = entry.names
            if names is None:  # a statement's result columns never change: read them once
                description = cur.description
                names = entry.names = tuple(d.name for d in description) if description is not None else ()
            values = cur.fetchone() if names else None
    except dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None):
            conn.invalidate(exc)
        raise DBAPIError.instance(entry.sql, binds, exc, dbapi.Error) from exc
    if values is None:
        return None
    return dict(zip(names, values, strict=True))


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception.

    Keep scopes short: on SQLite each one holds the database write lock.
    Objects stay readable after commit (``expire_on_commit=False``).
    """
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
