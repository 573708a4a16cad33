"""The one-statement ledger posting: round trips, replays, refusals, a twin racing with the same key."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from lashme.accounts import auth
from lashme.credits import ledger, ledger_check, unlocks
from lashme.errors import InsufficientCredits, NotFound
from lashme.jobs import fullres
from lashme.models import Job, JobEvent, JobStatus, LedgerEntry, LedgerKind, Unlock, User, Variant
from lashme.ops.db import connection_scope, get_engine, session_scope
from tests.dbutil import count

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgresql")
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs the suite on PostgreSQL")


def _user(email: str = "m@example.com", bonus: int = 3) -> int:
    with session_scope() as s:
        return auth.sign_up(s, email=email, password="Secret123", signup_bonus=bonus).id


def _balance(uid: int) -> ledger.Balance:
    with session_scope() as s:
        return ledger.get_balance(s, uid)


@contextmanager
def _round_trips(session):
    """Count the client/server round trips the block makes on the session's PostgreSQL connection.

    The transaction is begun first (psycopg sends BEGIN with the first statement), so only the
    block's own requests are counted; libpq's protocol trace ends every request with ReadyForQuery.
    """
    import psycopg

    session.execute(text("SELECT 1"))
    conn = session if isinstance(session, Connection) else session.connection()
    driver = conn.connection.driver_connection
    # psycopg prepares a statement the 5th time it runs it (one extra Parse round trip, once per
    # connection): which posting that lands on depends on the pooled connection's history, so not here
    saved_threshold, driver.prepare_threshold = driver.prepare_threshold, None
    pgconn = driver.pgconn
    trips: list[int] = []
    with tempfile.TemporaryFile() as f:
        pgconn.trace(f.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        try:
            yield trips
        finally:
            pgconn.untrace()
            driver.prepare_threshold = saved_threshold
        f.seek(0)
        lines = f.read().decode(errors="replace").splitlines()
    trips.append(sum(1 for line in lines if line.startswith("B\t") and "ReadyForQuery" in line))


def _done_variant(uid: int) -> str:
    with session_scope() as s:
        job = Job(
            user_id=uid,
            provider="studio",
            presets=["natural"],
            original_key="k",
            original_width=1,
            original_height=1,
            status=JobStatus.DONE,
        )
        s.add(job)
        s.flush()
        v = Variant(job_id=job.id, index=0, preset="natural", full_key="f", preview_key="p", thumb_key="t")
        s.add(v)
        s.flush()
        return v.id


def _pending_job(uid: int) -> str:
    with session_scope() as s:
        job = Job(
            user_id=uid,
            provider="studio",
            presets=["natural"],
            original_key="k",
            original_width=1,
            original_height=1,
            reserved_credits=1,
        )
        s.add(job)
        s.flush()
        return job.id


@postgres_only
def test_every_hot_posting_is_one_round_trip(clean_db):
    uid = _user()
    job_id = _pending_job(uid)
    calls: list[tuple[str, Callable]] = [
        (
            "grant",
            lambda s: ledger.grant(
                s, user_id=uid, amount=5, kind=LedgerKind.GRANT, reason="g", idempotency_key="g1"
            ),
        ),
        (
            "adjust",
            lambda s: ledger.adjust(
                s, user_id=uid, delta=-1, reason="a", actor="admin:9", idempotency_key="a1"
            ),
        ),
        (
            "post",
            lambda s: ledger.post(
                s, user_id=uid, delta=-1, kind=LedgerKind.UNLOCK, reason="u", idempotency_key="u1"
            ),
        ),
        ("reserve", lambda s: ledger.reserve(s, user_id=uid, job_id=job_id, amount=2, reason="r")),
        ("capture", lambda s: ledger.settle(s, job_id=job_id, capture=True, reason="c")),
        ("reserve again", lambda s: ledger.reserve(s, user_id=uid, job_id=job_id, amount=1, reason="r")),
        ("release", lambda s: ledger.settle(s, job_id=job_id, capture=False, reason="x")),
        (
            "replayed grant",
            lambda s: ledger.grant(
                s, user_id=uid, amount=5, kind=LedgerKind.GRANT, reason="g", idempotency_key="g1"
            ),
        ),
    ]
    trips = {}
    for name, call in calls:
        with session_scope() as s, _round_trips(s) as n:
            call(s)
        trips[name] = n[0]
    # a replay reads the earlier entry with one more plain SELECT
    assert trips == {name: 2 if name == "replayed grant" else 1 for name, _ in calls}
    assert _balance(uid) == ledger.Balance(total=3 + 5 - 1 - 1 - 2, held=0)
    with session_scope() as s:
        kinds = [
            e.kind
            for e in s.scalars(
                select(LedgerEntry).where(LedgerEntry.job_id == job_id).order_by(LedgerEntry.id)
            )
        ]
        assert kinds == ["reserve", "capture", "reserve", "release"]
        assert ledger_check.verify(s).ok


@postgres_only
def test_an_unlock_makes_two_round_trips_after_begin(clean_db):
    uid = _user()
    vid = _done_variant(uid)
    with session_scope() as s, _round_trips(s) as n:
        result = unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1)
    # ownership lookup with the claim of the unlocks row; the posting, which links the row to its entry
    assert n[0] == 2 and result.charged and result.balance == ledger.Balance(total=2, held=0)
    with session_scope() as s:
        unlock = s.scalars(select(Unlock).where(Unlock.variant_id == vid)).one()
        assert unlock.ledger_entry_id == result.unlock.ledger_entry_id is not None
        assert s.get(LedgerEntry, unlock.ledger_entry_id).idempotency_key == f"unlock:{uid}:{vid}"


@postgres_only
def test_the_unlock_use_case_on_a_core_connection_makes_three_round_trips_after_begin(clean_db):
    uid = _user()
    vid = _done_variant(uid)
    with connection_scope() as c, _round_trips(c) as n:
        result = unlocks.unlock_variant(c, user_id=uid, variant_id=vid, cost=None)
        render = fullres.request_render_core(c, vid, checked=True)
    # ownership, price and claim; the posting with the claim's ledger_entry_id; the render request with its event
    assert n[0] == 3 and result.charged and result.cost == 1 and render == (fullres.PENDING, True)
    with session_scope() as s:
        unlock = s.scalars(select(Unlock).where(Unlock.variant_id == vid)).one()
        entry = s.get(LedgerEntry, unlock.ledger_entry_id)
        assert (entry.delta, entry.balance_after) == (-1, 2) and _balance(uid).available == 2
        assert s.get(Variant, vid).fullres_status == fullres.PENDING
        events = s.scalars(select(JobEvent).where(JobEvent.kind == "fullres")).all()
        assert [e.data for e in events] == [{"variant_id": vid, "index": 0, "state": fullres.PENDING}]
    with connection_scope() as c:  # again: free, nothing new
        again = unlocks.unlock_variant(c, user_id=uid, variant_id=vid, cost=None)
        assert fullres.request_render_core(c, vid, checked=True) == (fullres.PENDING, True)
    assert not again.charged and again.cost == 0 and _balance(uid).available == 2


def test_a_posting_records_the_resulting_balance_and_a_replay_changes_nothing(clean_db):
    uid = _user(bonus=3)
    with session_scope() as s:
        first, created = ledger.post(
            s,
            user_id=uid,
            delta=-2,
            kind=LedgerKind.UNLOCK,
            reason="spend",
            idempotency_key="spend-1",
            actor=f"user:{uid}",
            variant_id="v1",
        )
    assert created and (first.balance_after, first.held_after, first.kind) == (1, 0, LedgerKind.UNLOCK)
    with session_scope() as s:
        again, created = ledger.post(
            s, user_id=uid, delta=-2, kind=LedgerKind.UNLOCK, reason="spend", idempotency_key="spend-1"
        )
        stored = s.get(LedgerEntry, first.id)
    columns = [c.name for c in LedgerEntry.__table__.c]
    assert not created and [getattr(again, c) for c in columns] == [getattr(stored, c) for c in columns]
    assert (stored.delta, stored.balance_after, stored.actor, stored.variant_id) == (
        -2,
        1,
        f"user:{uid}",
        "v1",
    )
    assert _balance(uid) == ledger.Balance(total=1, held=0)


def test_refusals_change_nothing_and_keep_their_error_types(clean_db):
    uid = _user(bonus=1)
    with session_scope() as s:
        ledger.reserve(s, user_id=uid, job_id="j" * 32, amount=1, reason="held")
    with session_scope() as s, pytest.raises(InsufficientCredits):  # 1 total, 1 held: nothing available
        ledger.post(s, user_id=uid, delta=-1, kind=LedgerKind.UNLOCK, reason="x", idempotency_key="x1")
    with session_scope() as s, pytest.raises(NotFound):
        ledger.post(s, user_id=uid + 1000, delta=1, kind=LedgerKind.GRANT, reason="x", idempotency_key="x2")
    with session_scope() as s:  # an admin-style overdraft is only allowed when asked for
        entry, _ = ledger.post(
            s,
            user_id=uid,
            delta=-1,
            kind=LedgerKind.REFUND,
            reason="x",
            idempotency_key="x3",
            allow_overdraft=True,
        )
    assert (entry.balance_after, entry.held_after) == (0, 1)
    with session_scope() as s:
        assert count(s, LedgerEntry, LedgerEntry.idempotency_key.in_(["x1", "x2"])) == 0


def test_a_second_reserve_returns_the_open_one_and_nothing_open_settles_to_none(clean_db):
    uid = _user(bonus=3)
    job_id = _pending_job(uid)
    with session_scope() as s:
        first = ledger.reserve(s, user_id=uid, job_id=job_id, amount=2, reason="r")
        again = ledger.reserve(s, user_id=uid, job_id=job_id, amount=2, reason="r")
    assert again.id == first.id and first.idempotency_key == f"reserve:{job_id}:0"
    assert _balance(uid) == ledger.Balance(total=3, held=2)
    with session_scope() as s:
        settled = ledger.settle(s, job_id=job_id, capture=False, reason="x")
        assert settled.idempotency_key == f"settle:{job_id}:0" and settled.held_after == 0
        assert ledger.settle(s, job_id=job_id, capture=True, reason="y") is None
        assert ledger.settle(s, job_id="n" * 32, capture=True, reason="y") is None
    assert _balance(uid) == ledger.Balance(total=3, held=0)


def test_the_ledger_leaves_loaded_users_readable(clean_db):
    with session_scope() as s:
        user = auth.sign_up(s, email="r@example.com", password="Secret123", signup_bonus=3)
        assert (user.balance, user.held) == (3, 0)  # refreshed after the UPDATE that bypassed the ORM
    assert user.email == "r@example.com"  # only balance/held were expired, not the whole object


def _wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@postgres_only
def test_a_twin_with_the_same_key_committing_first_is_returned_and_posted_once(clean_db):
    """B's statement starts before A commits (it waits on the user's row lock): B must undo its UPDATE."""
    uid = _user(bonus=10)
    a_posted, a_may_commit = threading.Event(), threading.Event()
    results: dict[str, tuple[int, bool]] = {}

    def twin(name: str, hold: bool) -> None:
        with session_scope() as s:
            if not hold:
                s.execute(text("SET application_name = 'ledger-twin-b'"))
            entry, created = ledger.post(
                s, user_id=uid, delta=-4, kind=LedgerKind.UNLOCK, reason=name, idempotency_key="same-key"
            )
            results[name] = (entry.id, created)
            if hold:
                a_posted.set()
                a_may_commit.wait(30)

    a = threading.Thread(target=twin, args=("a", True))
    a.start()
    assert a_posted.wait(30)
    b = threading.Thread(target=twin, args=("b", False))
    b.start()

    def b_waits_for_the_row_lock() -> bool:
        with session_scope() as s:
            return bool(
                s.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ledger-twin-b'"
                        " AND wait_event_type = 'Lock'"
                    )
                )
            )

    _wait_until(b_waits_for_the_row_lock)
    a_may_commit.set()
    a.join(30)
    b.join(30)
    assert results["a"][1] is True and results["b"] == (results["a"][0], False)
    assert _balance(uid) == ledger.Balance(total=6, held=0)
    with session_scope() as s:
        assert count(s, LedgerEntry, LedgerEntry.idempotency_key == "same-key") == 1
        assert s.get(User, uid).balance == 6
        assert ledger_check.verify(s).ok


def test_a_posting_of_its_own_or_on_a_core_connection_keeps_the_ledger_rules(clean_db):
    """``ledger.post(None, …)`` commits by itself; ``connection_scope`` is a Core transaction: same rules."""
    uid = _user(bonus=3)
    first, created = ledger.post(
        None, user_id=uid, delta=-2, kind=LedgerKind.UNLOCK, reason="alone", idempotency_key="alone-1"
    )
    assert created and (first.balance_after, first.held_after, first.kind) == (1, 0, LedgerKind.UNLOCK)
    again, created = ledger.post(
        None, user_id=uid, delta=-2, kind=LedgerKind.UNLOCK, reason="alone", idempotency_key="alone-1"
    )
    assert not created and (again.id, again.balance_after, again.reason) == (first.id, 1, "alone")
    with pytest.raises(InsufficientCredits):
        ledger.post(None, user_id=uid, delta=-2, kind=LedgerKind.UNLOCK, reason="x", idempotency_key="alone-2")
    with pytest.raises(NotFound):
        ledger.grant(None, user_id=uid + 1000, amount=1, kind=LedgerKind.GRANT, reason="x", idempotency_key="alone-3")
    job_id = _pending_job(uid)
    held = ledger.reserve(None, user_id=uid, job_id=job_id, amount=1, reason="r")
    assert held.idempotency_key == f"reserve:{job_id}:0" and (held.balance_after, held.held_after) == (1, 1)
    with connection_scope() as c:  # a Core transaction: two postings commit together
        assert ledger.reserve(c, user_id=uid, job_id=job_id, amount=1, reason="r").id == held.id
        captured = ledger.settle(c, job_id=job_id, capture=True, reason="c")
        ledger.grant(c, user_id=uid, amount=4, kind=LedgerKind.GRANT, reason="g", idempotency_key="core-1")
    assert (captured.balance_after, captured.held_after) == (0, 0)
    with pytest.raises(InsufficientCredits), connection_scope() as c:  # rolled back whole
        ledger.grant(c, user_id=uid, amount=1, kind=LedgerKind.GRANT, reason="g", idempotency_key="core-2")
        ledger.post(c, user_id=uid, delta=-9, kind=LedgerKind.UNLOCK, reason="x", idempotency_key="core-3")
    assert ledger.settle(None, job_id=job_id, capture=False, reason="x") is None  # settled once
    assert _balance(uid) == ledger.Balance(total=4, held=0)
    with session_scope() as s:
        assert count(s, LedgerEntry, LedgerEntry.idempotency_key.in_(["alone-2", "alone-3", "core-2", "core-3"])) == 0
        assert ledger_check.verify(s).ok


@postgres_only
def test_a_posting_of_its_own_is_one_round_trip_and_leaves_its_connection_transactional(clean_db):
    import psycopg

    uid = _user()
    engine = get_engine()
    fairy = engine.raw_connection()  # the pool lends its most recently returned connection next
    driver = fairy.driver_connection
    fairy.close()
    with tempfile.TemporaryFile() as f:
        driver.pgconn.trace(f.fileno())
        driver.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        try:
            entry, created = ledger.post(
                None, user_id=uid, delta=-1, kind=LedgerKind.UNLOCK, reason="u", idempotency_key="rt-1"
            )
        finally:
            driver.pgconn.untrace()
        f.seek(0)
        lines = f.read().decode(errors="replace").splitlines()
    # its statement (prepared or not, once), and no BEGIN, COMMIT or ROLLBACK
    assert created and entry.balance_after == 2
    assert sum(1 for line in lines if line.startswith("B\t") and "ReadyForQuery" in line) <= 2
    assert not any(word in line for line in lines for word in ('"BEGIN"', '"COMMIT"', '"ROLLBACK"'))
    fairy = engine.raw_connection()
    try:
        assert fairy.driver_connection is driver and driver.autocommit is False
    finally:
        fairy.close()


@postgres_only
def test_a_posting_of_its_own_that_loses_to_a_twin_returns_the_twin_and_changes_nothing(clean_db):
    """A holds the user's row with the same key; B (its own transaction) waits, then conflicts and re-reads."""
    uid = _user(bonus=10)
    a_posted, a_may_commit = threading.Event(), threading.Event()
    results: dict[str, tuple[int, bool]] = {}

    def a() -> None:
        with session_scope() as s:
            entry, created = ledger.post(
                s, user_id=uid, delta=-4, kind=LedgerKind.UNLOCK, reason="a", idempotency_key="same-key"
            )
            results["a"] = (entry.id, created)
            a_posted.set()
            a_may_commit.wait(30)

    def b() -> None:
        entry, created = ledger.post(
            None, user_id=uid, delta=-4, kind=LedgerKind.UNLOCK, reason="b", idempotency_key="same-key"
        )
        results["b"] = (entry.id, created)

    ta = threading.Thread(target=a)
    ta.start()
    assert a_posted.wait(30)
    tb = threading.Thread(target=b)
    tb.start()

    def b_waits_for_the_row_lock() -> bool:
        with session_scope() as s:
            return bool(
                s.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query LIKE 'WITH upd AS%'"
                    )
                )
            )

    _wait_until(b_waits_for_the_row_lock)
    a_may_commit.set()
    ta.join(30)
    tb.join(30)
    assert results["a"][1] is True and results["b"] == (results["a"][0], False)
    assert _balance(uid) == ledger.Balance(total=6, held=0)
    with session_scope() as s:
        assert count(s, LedgerEntry, LedgerEntry.idempotency_key == "same-key") == 1
        assert ledger_check.verify(s).ok
    engine = get_engine()
    for _ in range(2):  # no pooled connection was left in autocommit mode
        fairy = engine.raw_connection()
        try:
            assert fairy.driver_connection.autocommit is False
        finally:
            fairy.close()
