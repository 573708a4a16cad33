"""Races on the real database (PostgreSQL when the suite runs on it): money never goes negative or doubles."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

from lashme.accounts import auth
from lashme.credits import ledger, ledger_check, unlocks
from lashme.errors import InsufficientCredits
from lashme.jobs import lifecycle as jobs
from lashme.models import Job, JobStatus, LedgerEntry, LedgerKind, Unlock, Variant, new_id
from lashme.ops.db import session_scope
from tests.dbutil import count


def _done_job_with_variants(uid: int, n: int) -> list[str]:
    ids = []
    with session_scope() as s:
        for j in range(0, n, 4):
            job = Job(
                user_id=uid,
                provider="studio",
                presets=["natural"] * 4,
                original_key=f"u{uid}/{j}/original.jpg",
                original_width=1,
                original_height=1,
                status=JobStatus.DONE,
            )
            s.add(job)
            s.flush()
            for i in range(min(4, n - j)):
                v = Variant(
                    job_id=job.id, index=i, preset="natural", full_key="f", preview_key="p", thumb_key="t"
                )
                s.add(v)
                s.flush()
                ids.append(v.id)
    return ids


def test_200_concurrent_unlocks_with_3_credits_exactly_3_succeed(clean_db):
    with session_scope() as s:
        uid = auth.sign_up(s, email="racer@example.com", password="Secret123", signup_bonus=3).id
    variant_ids = _done_job_with_variants(uid, 200)
    start = threading.Barrier(16)
    results: list[str] = []

    def attempt(vid: str) -> str:
        try:
            with session_scope() as s:
                return (
                    "charged"
                    if unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1).charged
                    else "free"
                )
        except InsufficientCredits:
            return "refused"

    def worker(chunk: list[str]) -> None:
        start.wait()
        results.extend(attempt(v) for v in chunk)

    chunks = [variant_ids[i::16] for i in range(16)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 200
    assert results.count("charged") == 3 and results.count("refused") == 197
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=0, held=0)
        assert count(s, Unlock, Unlock.user_id == uid) == 3
        assert ledger_check.verify(s).ok


def test_50_concurrent_reserve_capture_release_cycles_leave_the_ledger_clean(clean_db):
    with session_scope() as s:
        uid = auth.sign_up(s, email="cycles@example.com", password="Secret123", signup_bonus=30).id
    rng = random.Random(7)
    outcomes = {}

    def cycle(i: int) -> str:
        job_id = new_id()
        try:
            with session_scope() as s:
                jobs.create_job(
                    s,
                    job_id=job_id,
                    user_id=uid,
                    anon_token=None,
                    provider="studio",
                    presets=["natural"],
                    original_key=f"u{uid}/{job_id}/original.jpg",
                    width=1,
                    height=1,
                    reserve_credits=1,
                )
        except InsufficientCredits:
            return "refused"
        final = rng.choice([JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELED])
        if final != JobStatus.CANCELED:
            with session_scope() as s:
                jobs.transition(s, job_id, JobStatus.PROCESSING)

        def finish(to: JobStatus) -> bool:  # two finishers race; only one transition may win
            try:
                with session_scope() as s:
                    jobs.transition(s, job_id, to)
                return True
            except jobs.InvalidTransition:
                return False

        rival = JobStatus.FAILED if final == JobStatus.DONE else JobStatus.DONE
        with ThreadPoolExecutor(2) as pool:
            won = [
                pool.submit(finish, final),
                pool.submit(finish, rival if final != JobStatus.CANCELED else final),
            ]
            assert sum(f.result() for f in won) == 1
        with session_scope() as s:
            outcomes[job_id] = s.get(Job, job_id).status
        return "ok"

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(cycle, range(50)))
    assert results.count("ok") + results.count("refused") == 50
    done = sum(1 for st in outcomes.values() if st == JobStatus.DONE)
    with session_scope() as s:
        report = ledger_check.verify(s)
        assert report.ok, report
        assert ledger.get_balance(s, uid) == ledger.Balance(total=30 - done, held=0)


def test_postings_of_their_own_racing_spend_each_credit_once_and_each_key_once(clean_db):
    """``ledger.post(None, …)`` (one autocommit statement on PostgreSQL): 12 threads, 5 credits, shared keys."""
    with session_scope() as s:
        uid = auth.sign_up(s, email="alone@example.com", password="Secret123", signup_bonus=5).id
    start = threading.Barrier(12)
    results: list[tuple[str, int | None]] = []

    def worker(w: int) -> None:
        start.wait()
        for i in range(6):
            key = f"alone:{i}" if w % 2 == 0 else f"alone:{w}:{i}"  # even workers share their keys
            try:
                entry, created = ledger.post(
                    None, user_id=uid, delta=-1, kind=LedgerKind.UNLOCK, reason="race", idempotency_key=key
                )
                results.append(("created" if created else "replay", entry.balance_after if created else None))
            except InsufficientCredits:
                results.append(("refused", None))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 72
    created = sorted(b for r, b in results if r == "created")
    assert created == [0, 1, 2, 3, 4]  # every credit spent once, each entry with its own resulting balance
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=0, held=0)
        assert count(s, LedgerEntry, LedgerEntry.kind == LedgerKind.UNLOCK) == 5
        assert ledger_check.verify(s).ok
