"""Ledger and unlocks: bonus, unlock once, racing unlocks on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading

import pytest
from sqlmodel import SQLModel, select

from lashme.accounts import auth
from lashme.credits import ledger, ledger_check, unlocks
from lashme.errors import InsufficientCredits, NotFound
from lashme.models import Job, JobStatus, LedgerEntry, LedgerKind, Unlock, User, Variant
from lashme.ops.db import make_engine, session_scope
from tests.dbutil import count


def _engines(tmp_path):
    """A fresh SQLite engine, plus the run's PostgreSQL engine when the suite runs on it."""
    sqlite = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    SQLModel.metadata.create_all(sqlite)
    out = [pytest.param(sqlite, id="sqlite")]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        pg = make_engine(url)
        with pg.begin() as conn:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
        out.append(pytest.param(pg, id="postgres"))
    return out


def _user_with_done_job(engine, *, bonus=3, n_variants=4, email="m@example.com"):
    with session_scope(engine) as s:
        user = auth.sign_up(s, email=email, password="Secret123", signup_bonus=bonus)
        job = Job(
            user_id=user.id,
            provider="studio",
            presets=["natural"],
            original_key="k",
            original_width=1,
            original_height=1,
            status=JobStatus.DONE,
        )
        s.add(job)
        s.flush()
        variants = []
        for i in range(n_variants):
            v = Variant(
                job_id=job.id, index=i, preset="natural", full_key=f"f{i}", preview_key="p", thumb_key="t"
            )
            s.add(v)
            variants.append(v)
        s.flush()
        return user.id, [v.id for v in variants]


def test_signup_bonus_is_one_ledger_entry(clean_db):
    uid, _ = _user_with_done_job(clean_db)
    with session_scope() as s:
        assert ledger.get_balance(s, uid).available == 3
        rows = ledger.entries(s, uid)
        assert [(e.kind, e.delta, e.balance_after) for e in rows] == [(LedgerKind.SIGNUP_BONUS, 3, 3)]
        assert rows[0].idempotency_key == f"signup_bonus:{uid}"
        assert ledger_check.verify(s).ok


def test_grant_is_idempotent_by_key(clean_db):
    uid, _ = _user_with_done_job(clean_db)
    for _ in range(3):
        with session_scope() as s:
            ledger.grant(
                s, user_id=uid, amount=10, kind=LedgerKind.GRANT, reason="gift", idempotency_key="gift-1"
            )
    with session_scope() as s:
        assert ledger.get_balance(s, uid).total == 13
        assert len(ledger.entries(s, uid)) == 2


def test_unlock_charges_once_and_redownload_is_free(clean_db):
    uid, vids = _user_with_done_job(clean_db)
    with session_scope() as s:
        first = unlocks.unlock_variant(s, user_id=uid, variant_id=vids[0], cost=1)
    with session_scope() as s:
        again = unlocks.unlock_variant(s, user_id=uid, variant_id=vids[0], cost=1)
    assert first.charged and not again.charged
    assert first.balance.available == 2 and again.balance.available == 2
    with session_scope() as s:
        spend = [e for e in ledger.entries(s, uid) if e.kind == LedgerKind.UNLOCK]
        assert len(spend) == 1 and spend[0].delta == -1 and spend[0].balance_after == 2
        assert spend[0].variant_id == vids[0]
        # the posting links the claimed unlocks row to its entry (PostgreSQL: in the same statement)
        rows = s.scalars(select(Unlock).where(Unlock.user_id == uid)).all()
        assert [(r.variant_id, r.ledger_entry_id) for r in rows] == [(vids[0], spend[0].id)]
        assert first.unlock.ledger_entry_id == spend[0].id and again.unlock.ledger_entry_id == spend[0].id


def test_zero_credits_refused_and_nothing_charged(clean_db):
    uid, vids = _user_with_done_job(clean_db, bonus=0)
    with session_scope() as s, pytest.raises(InsufficientCredits) as err:
        unlocks.unlock_variant(s, user_id=uid, variant_id=vids[0], cost=1)
    assert "Not enough credits" in str(err.value)
    with session_scope() as s:
        assert ledger.get_balance(s, uid).total == 0
        assert count(s, Unlock) == 0
        assert count(s, LedgerEntry) == 0


def test_other_users_variant_is_not_found(clean_db):
    _, vids = _user_with_done_job(clean_db)
    with session_scope() as s:
        other = auth.sign_up(s, email="other@example.com", password="Secret123", signup_bonus=3)
    with session_scope() as s, pytest.raises(NotFound):
        unlocks.unlock_variant(s, user_id=other.id, variant_id=vids[0], cost=1)
    with session_scope() as s:
        assert ledger.get_balance(s, other.id).total == 3


def test_verify_finds_a_tampered_balance(clean_db):
    uid, _ = _user_with_done_job(clean_db)
    with session_scope() as s:
        s.get(User, uid).balance = 99
    with session_scope() as s:
        report = ledger_check.verify(s)
    assert not report.ok
    assert [(m.user_id, m.balance, m.ledger_sum) for m in report.mismatches] == [(uid, 99, 3)]


def _race(engine, *, distinct: bool) -> None:
    """8 threads try to unlock with 1 credit: exactly one is charged, the balance ends at 0."""
    uid, vids = _user_with_done_job(engine, bonus=1, n_variants=8, email=f"race{distinct}@example.com")
    results, barrier = [], threading.Barrier(8)

    def attempt(vid):
        barrier.wait()
        try:
            with session_scope(engine) as s:
                r = unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1)
            results.append("charged" if r.charged else "free")
        except InsufficientCredits:
            results.append("refused")

    targets = vids if distinct else [vids[0]] * 8
    threads = [threading.Thread(target=attempt, args=(v,)) for v in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 8
    assert results.count("charged") == 1, results
    with session_scope(engine) as s:
        assert ledger.get_balance(s, uid).total == 0
        assert count(s, Unlock, Unlock.user_id == uid) == 1
        assert ledger_check.verify(s).ok


@pytest.mark.parametrize("distinct", [True, False], ids=["distinct-variants", "same-variant"])
def test_racing_unlocks(tmp_path, distinct):
    """Racing unlocks on SQLite and, when the suite runs on it, PostgreSQL."""
    engines = _engines(tmp_path)
    for param in engines:
        _race(param.values[0], distinct=distinct)
        param.values[0].dispose()
    assert len(engines) == (2 if os.environ.get("DATABASE_URL", "").startswith("postgresql") else 1)
