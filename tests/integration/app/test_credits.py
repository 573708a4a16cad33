"""Prices from the database, reservations settled with the job, daily limits, ledger verify and its CLI."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from lashme import cli
from lashme.accounts import auth, daily_limits
from lashme.credits import ledger, ledger_check, pricing
from lashme.errors import InsufficientCredits
from lashme.jobs import lifecycle as jobs
from lashme.jobs import uploads
from lashme.models import Job, JobStatus, LedgerEntry, LedgerKind, User
from lashme.ops.db import session_scope
from tests.dbutil import count
from tests.photos import chelsea_jpeg


def _user(email="m@example.com", bonus=3) -> int:
    with session_scope() as s:
        return auth.sign_up(s, email=email, password="Secret123", signup_bonus=bonus).id


def _set(key, value):
    with session_scope() as s:
        pricing.set_price(s, key, value, actor="test")


def _kinds(job_id) -> list[str]:
    with session_scope() as s:
        rows = s.execute(
            select(LedgerEntry.kind).where(LedgerEntry.job_id == job_id).order_by(LedgerEntry.id)
        )
        return [str(k) for k in rows.scalars()]


def test_prices_and_packs_are_seeded_by_the_migration(clean_db):
    with session_scope() as s:
        prices = pricing.get_prices(s)
        packs = [(p.code, p.credits, p.price_cents, p.currency, p.popular) for p in pricing.active_packs(s)]
    assert (prices.unlock_cost, prices.generation_cost, prices.signup_bonus) == (1, 0, 3)
    assert (prices.daily_limit_anon, prices.daily_limit_user) == (3, 20)
    assert packs == [
        ("pack_10", 10, 500, "usd", False),
        ("pack_50", 50, 1800, "usd", True),
        ("pack_100", 100, 3000, "usd", False),
    ]
    with session_scope() as s, pytest.raises(ValueError):
        pricing.set_price(s, "unlock_cost", -1, actor="test")


def test_free_generation_reserves_nothing(clean_db):
    uid = _user()
    job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    assert job.reserved_credits == 0
    assert _kinds(job.id) == []


def test_priced_generation_reserves_then_captures_on_done(clean_db):
    _set("generation_cost", 2)
    uid = _user()
    job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=3, held=2)
    _set("generation_cost", 5)  # a later price change does not touch this reservation
    with session_scope() as s:
        jobs.transition(s, job.id, JobStatus.PROCESSING)
        jobs.transition(s, job.id, JobStatus.DONE)
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=1, held=0)
        assert ledger_check.verify(s).ok
    assert _kinds(job.id) == ["reserve", "capture"]


@pytest.mark.parametrize("final", [JobStatus.FAILED, JobStatus.CANCELED])
def test_failure_or_cancel_releases_and_a_retry_reserves_again(clean_db, final):
    _set("generation_cost", 1)
    uid = _user()
    job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    with session_scope() as s:
        jobs.transition(s, job.id, final)
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=3, held=0)
        with pytest.raises(jobs.InvalidTransition):  # a second settlement cannot happen
            jobs.transition(s, job.id, JobStatus.DONE)
    assert _kinds(job.id) == ["reserve", "release"]
    if final == JobStatus.FAILED:
        with session_scope() as s:
            jobs.transition(s, job.id, JobStatus.PENDING)  # retry: reserves again
            assert ledger.get_balance(s, uid).held == 1
            jobs.transition(s, job.id, JobStatus.PROCESSING)
            jobs.transition(s, job.id, JobStatus.DONE)
        with session_scope() as s:
            assert ledger.get_balance(s, uid) == ledger.Balance(total=2, held=0)
            assert ledger_check.verify(s).ok
        assert _kinds(job.id) == ["reserve", "release", "reserve", "capture"]


def test_settling_twice_is_a_no_op(clean_db):
    _set("generation_cost", 1)
    uid = _user()
    job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    with session_scope() as s:
        first = ledger.settle(s, job_id=job.id, capture=True, reason="x")
        again = ledger.settle(s, job_id=job.id, capture=False, reason="y")
    assert first is not None and again is None
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=2, held=0)


def test_short_balance_refuses_the_job_and_queues_nothing(clean_db, storage):
    _set("generation_cost", 4)
    uid = _user()
    files_before = sorted(storage.root.rglob("*.jpg"))
    with pytest.raises(InsufficientCredits) as err:
        uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    assert sorted(storage.root.rglob("*.jpg")) == files_before
    assert err.value.key == "credits.insufficient_generation"
    assert "buy a credit pack" in err.value.message.lower()
    with session_scope() as s:
        assert count(s, Job) == 0
        assert ledger.get_balance(s, uid) == ledger.Balance(total=3, held=0)


def test_visitors_get_three_jobs_a_day_per_browser_and_per_ip(clean_db):
    _set("daily_limit_anon_ip", 3)  # the per-IP cap (a salon's Wi-Fi gets more: tests/integration/app/test_paid_limits.py)
    for _ in range(3):
        uploads.submit_photo(
            chelsea_jpeg(), user_id=None, anon_token="browser-a", client_ip="10.0.0.1", enqueue=False
        )
    with pytest.raises(daily_limits.DailyLimitReached) as err:
        uploads.submit_photo(
            chelsea_jpeg(), user_id=None, anon_token="browser-a", client_ip="10.0.0.2", enqueue=False
        )
    assert err.value.key == "limits.daily_reached"
    assert "3 free photos" in err.value.message and "resets in" in err.value.message
    # a new cookie from the same IP is still counted by IP
    with pytest.raises(daily_limits.DailyLimitReached):
        uploads.submit_photo(
            chelsea_jpeg(), user_id=None, anon_token="browser-b", client_ip="10.0.0.1", enqueue=False
        )
    # another visitor elsewhere is not affected; refused uploads were not counted
    uploads.submit_photo(
        chelsea_jpeg(), user_id=None, anon_token="browser-c", client_ip="10.0.0.9", enqueue=False
    )
    with session_scope() as s:
        assert count(s, Job) == 4


def test_users_have_their_own_daily_limit(clean_db):
    _set("daily_limit_user", 2)
    alice, bob = _user("alice@example.com"), _user("bob@example.com")
    for _ in range(2):
        uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False)
    with pytest.raises(daily_limits.DailyLimitReached):
        uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False)
    uploads.submit_photo(chelsea_jpeg(), user_id=bob, anon_token=None, enqueue=False)
    usage = daily_limits.usage(user_id=alice, anon_token=None, client_ip=None, limit=2)
    assert (usage.used, usage.limit) == (2, 2)


def test_verify_finds_an_orphaned_hold_and_the_cli_exits_non_zero(clean_db, capsys):
    _set("generation_cost", 1)
    uid = _user()
    job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    assert cli.main(["ledger", "verify"]) == 0
    assert "ledger verify: OK" in capsys.readouterr().out
    with session_scope() as s:  # a bug or a hand edit finishes the job without settling
        s.get(Job, job.id).status = JobStatus.FAILED
    with session_scope() as s:
        report = ledger_check.verify(s)
    assert [(o.user_id, o.job_id, o.amount) for o in report.orphan_holds] == [(uid, job.id, 1)]
    assert cli.main(["ledger", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"ORPHANED HOLD user {uid}: 1 credits held for job {job.id}" in out
    with session_scope() as s:
        s.get(User, uid).balance = 50
    assert cli.main(["ledger", "verify"]) == 1
    assert f"MISMATCH user {uid}: balance 50 != ledger sum 3" in capsys.readouterr().out


def test_admin_adjust_needs_a_reason_and_stops_at_zero(clean_db):
    uid = _user()
    with session_scope() as s:
        with pytest.raises(ValueError):
            ledger.adjust(s, user_id=uid, delta=5, reason="  ", actor="admin:1", idempotency_key="a0")
        e = ledger.adjust(s, user_id=uid, delta=-3, reason="test", actor="admin:1", idempotency_key="a1")
        assert (e.kind, e.balance_after, e.actor) == (LedgerKind.ADMIN_ADJUST, 0, "admin:1")
        with pytest.raises(InsufficientCredits):
            ledger.adjust(s, user_id=uid, delta=-1, reason="test", actor="admin:1", idempotency_key="a2")


def test_parallel_uploads_cannot_slip_past_the_daily_limit(clean_db):
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(12)

    def attempt(i):
        barrier.wait()
        try:
            daily_limits.consume(user_id=None, anon_token=f"tab-{i}", client_ip="10.9.9.9", limit=3)
            return "ok"
        except daily_limits.DailyLimitReached:
            return "refused"

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(attempt, range(12)))
    assert results.count("ok") == 3, results


def test_daily_limit_resets_at_utc_midnight_and_keys_hold_no_raw_ip(clean_db, redis_conn):
    usage = daily_limits.consume(user_id=None, anon_token="tok-x", client_ip="203.0.113.7", limit=3)
    assert usage.used == 1
    assert usage.reset_at % 86400 == 0 and 0 < usage.reset_at - time.time() <= 86400
    keys = [k.decode() for k in redis_conn.scan_iter(match="*lashme-daily-jobs*")]
    assert keys and not any("203.0.113.7" in k or "tok-x" in k for k in keys)


def test_price_cli_sets_and_lists_prices(clean_db, capsys):
    assert cli.main(["price", "set", "generation_cost", "2"]) == 0
    assert "generation_cost: 0 -> 2" in capsys.readouterr().out
    assert cli.main(["price", "set", "no_such_price", "1"]) == 2
    assert cli.main(["price", "list"]) == 0
    out = capsys.readouterr().out
    assert "generation_cost         2" in out and "pack pack_50" in out and "(popular)" in out
