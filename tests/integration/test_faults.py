"""Fault injection with real processes: SIGKILLed workers, a restarted Redis, storage and time-outs.

Each test prints ``FAULT <name>: injected=… survived=… lost=…`` (repeated in
the run's summary).  "survived" = jobs that ended in a final status through
the product's own recovery; "lost" = jobs left PENDING/PROCESSING.
Timeouts are lowered through the environment so recovery takes seconds:
heartbeat every 1 s, a job abandoned 1 s after its last heartbeat, sweeps
every 0.5 s.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from sqlalchemy import func, select

from lashme.accounts import auth
from lashme.credits import ledger, ledger_check
from lashme.jobs import lifecycle as jobs
from lashme.jobs import uploads
from lashme.models import Job, JobEvent
from lashme.ops.db import session_scope
from lashme.ops.redis_server import start_redis
from lashme.ops.settings import get_settings
from tests.integration.conftest import fault_summary
from tests.integration.faultkit import (
    Procs,
    all_final,
    duplicate_ledger_keys,
    duplicate_variants,
    outcome,
    statuses,
    wait_until,
)
from tests.photos import astronaut_jpeg, coffee_jpeg

pytestmark = pytest.mark.slow

FAST_RECOVERY = {
    "LASHME_WORKER_MONITORING_INTERVAL": "1",
    "LASHME_WORKER_HEARTBEAT_GRACE": "1",
    "LASHME_SWEEP_GRACE": "3",
}


@pytest.fixture
def stack(tmp_path, monkeypatch, clean_db, redis_conn, worker_zygote):
    """A private queue name and env for children; the test process enqueues on the same queue.

    Workers are forked from the session's pre-imported ``worker.py`` (``worker_zygote``): real
    worker processes in sessions of their own, started in ~0.3 s instead of ~2.5 s."""
    qname = f"faults-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(get_settings(), "queue_name", qname)
    monkeypatch.setattr(get_settings(), "sweep_grace", 3)
    env = dict(os.environ) | FAST_RECOVERY | {"LASHME_QUEUE": qname}
    procs = Procs(tmp_path, env, worker_zygote)
    yield procs
    procs.stop_all()


def _user(email: str, *, generation_cost: int = 1, credits: int = 20) -> int:
    """A user with ``3 + credits`` credits; jobs cost ``generation_cost`` (reserved, captured or released)."""
    from lashme.credits import pricing
    from lashme.models import LedgerKind

    with session_scope() as s:
        pricing.set_price(s, "generation_cost", generation_cost, actor="test")
        uid = auth.sign_up(s, email=email, password="Secret123", signup_bonus=3).id
        ledger.grant(
            s, user_id=uid, amount=credits, kind=LedgerKind.GRANT, reason="test", idempotency_key=f"g{uid}"
        )
        return uid


def _balance(uid: int) -> ledger.Balance:
    with session_scope() as s:
        return ledger.get_balance(s, uid)


def _processing(job_id: str) -> bool:
    with session_scope() as s:
        return s.get(Job, job_id).status == "PROCESSING"


def _first_variant_stored(job_id: str) -> bool:
    """True once the running job has written a variant file (or it is no longer running)."""
    from lashme.files.storage import get_storage

    with session_scope() as s:
        job = s.get(Job, job_id)
        status, folder = job.status, job.original_key.rsplit("/", 1)[0]
    variants = get_storage().root / folder / "variants"
    return status != "PROCESSING" or any(variants.glob("*/preview.r*.jpg"))


def test_sigkill_worker_mid_job_x10(stack):
    """Kill -9 the worker (its whole process group, work horse included) while it runs a job, 10 times."""
    stack.env["LASHME_WORKER_SCHEDULER"] = "0"  # the sweeper moves due retries (workers here die)
    stack.sweeper(interval=0.5)
    uid = _user("kill@example.com")
    photo = coffee_jpeg(size=(2400, 1600))
    job_ids, injected = [], 0
    started = time.monotonic()
    for i in range(10):
        worker = stack.worker(f"victim-{i}")
        job = uploads.submit_photo(photo, user_id=uid, anon_token=None)
        job_ids.append(job.id)
        wait_until(lambda j=job.id: _processing(j), 60, 0.01, what=f"job {i} processing")
        if i % 2:  # at different points of the run: at the claim, or once results are being stored
            wait_until(lambda j=job.id: _first_variant_stored(j), 60, 0.005, what=f"job {i} storing")
        mid_job = statuses([job.id])[job.id] == "PROCESSING"
        horses = stack.kill(worker)
        injected += mid_job and horses > 0
    survivor = stack.worker("survivor")
    wait_until(lambda: all_final(job_ids), 120, 0.3, what="all jobs final after the kills")
    recovery = time.monotonic() - started
    assert survivor.poll() is None
    counts = outcome(job_ids)
    fault_summary(
        "sigkill-worker",
        injected=injected,
        survived=counts["DONE"] + counts["FAILED"],
        lost=len(job_ids) - counts["DONE"] - counts["FAILED"],
        done=counts["DONE"],
        failed=counts["FAILED"],
        seconds=round(recovery, 1),
    )
    assert injected >= 8, "the kills should land while jobs run"
    assert counts["DONE"] == 10, stack.logs()
    assert duplicate_variants(job_ids) == 0
    assert duplicate_ledger_keys() == 0
    assert _balance(uid) == ledger.Balance(total=23 - 10, held=0)  # each job charged exactly once
    with session_scope() as s:
        assert ledger_check.verify(s).ok
        attempts = [s.get(Job, j).attempts for j in job_ids]
        resumed = [
            any(e.message == "resumed after worker loss" for e in jobs.events_of(s, j)) for j in job_ids
        ]
    # every job a kill interrupted was resumed by a later run (at most job_max_attempts runs in all);
    # with a warm work horse a kill can also land between two jobs, interrupting none
    assert all(r == (a >= 2) for r, a in zip(resumed, attempts, strict=True)), (attempts, resumed)
    assert sum(resumed) >= 8 and all(1 <= a <= 3 for a in attempts), (attempts, resumed)


def test_redis_stopped_and_restarted_with_jobs_queued(stack, tmp_path, monkeypatch):
    """A private Redis (no persistence) goes down with 6 jobs queued and comes back empty."""
    server = start_redis(tmp_path / "redis-own")
    port = server.port
    url = server.url
    monkeypatch.setattr(get_settings(), "redis_url", url)
    from lashme.jobs import queue

    queue.get_redis.cache_clear()
    stack.env["REDIS_URL"] = url
    try:
        workers = [stack.worker("worker-0"), stack.worker("worker-1")]
        stack.sweeper(interval=0.5)
        photo = coffee_jpeg(size=(2400, 1600))
        job_ids = [uploads.submit_photo(photo, user_id=None, anon_token=f"redis-{i}").id for i in range(8)]
        wait_until(lambda: _processing(job_ids[0]), 60, 0.02, what="first job processing")
        queued_before = queue.get_queue().count
        server.stop()
        # Redis stays down until the sweeper has hit the outage (workers see it as well)
        sweeper_log = tmp_path / "sweeper.log"
        wait_until(lambda: "sweep failed" in sweeper_log.read_text(errors="replace"), 30, 0.05, what="outage seen")
        server = start_redis(tmp_path / "redis-own", port=port)
        restarted_at = time.monotonic()
        try:
            wait_until(lambda: all_final(job_ids), 60, 0.3, what="jobs done after the Redis restart")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {outcome(job_ids)}\n{stack.logs()}") from None
        seconds = time.monotonic() - restarted_at
        alive = sum(w.poll() is None for w in workers)
    finally:
        server.stop()
        queue.get_redis.cache_clear()
    counts = outcome(job_ids)
    fault_summary(
        "redis-restart",
        injected=queued_before,
        survived=counts["DONE"],
        lost=len(job_ids) - counts["DONE"] - counts["FAILED"],
        jobs=len(job_ids),
        workers_alive=alive,
        seconds=round(seconds, 1),
    )
    assert queued_before >= 4  # those were only in the Redis that went away
    assert counts["DONE"] == len(job_ids), stack.logs()
    assert alive == 2, "workers reconnect on their own"
    assert duplicate_variants(job_ids) == 0
    with session_scope() as s:
        done_events = dict(
            s.execute(
                select(JobEvent.job_id, func.count())
                .where(
                    JobEvent.job_id.in_(job_ids),
                    JobEvent.from_status == "PROCESSING",
                    JobEvent.to_status == "DONE",
                )
                .group_by(JobEvent.job_id)
            ).all()
        )
    assert all(done_events.get(j, 0) <= 1 for j in job_ids), f"a job reached DONE twice: {done_events}"


def _wait_final(job_id: str, timeout: float = 60) -> Job:
    wait_until(lambda: all_final([job_id]), timeout, 0.1, what=f"job {job_id} final")
    with session_scope() as s:
        return s.get(Job, job_id)


def test_storage_write_failure_fails_the_job_with_a_plain_reason(stack, storage):
    """The variants folder cannot be created (a file is in the way): every write fails."""
    from lashme.i18n import translate
    from lashme.jobs import queue

    stack.worker("worker")
    uid = _user("disk@example.com")
    job = uploads.submit_photo(astronaut_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    blocker = storage.root / job.original_key.rsplit("/", 1)[0] / "variants"
    blocker.write_bytes(b"not a folder")
    queue.enqueue_generation(job.id)
    done = _wait_final(job.id)
    fault_summary(
        "storage-write-failure",
        injected=1,
        survived=int(done.status == "FAILED"),
        lost=int(done.status not in ("DONE", "FAILED")),
        reason=done.error_key,
    )
    assert done.status == "FAILED" and done.error_key == "generation.storage_failed"
    assert translate(done.error_key, "en") == "We could not save the results. Please try again."
    with session_scope() as s:
        assert jobs.variants_of(s, job.id) == []
        events = [(e.from_status, e.to_status) for e in jobs.events_of(s, job.id)]
        assert ledger_check.verify(s).ok
    assert events[-1] == ("PROCESSING", "FAILED")
    assert _balance(uid) == ledger.Balance(total=23, held=0)  # the reservation was released


def test_provider_running_past_the_job_timeout_fails_the_job(stack, monkeypatch):
    """A provider call that never returns: RQ's hard time limit (SIGALRM in the work horse) ends it."""
    from lashme.i18n import translate

    monkeypatch.setattr(get_settings(), "job_timeout", 1)
    monkeypatch.setattr(get_settings(), "job_max_attempts", 1)
    stack.start("hung-worker", ["-m", "tests.fakes.hung_provider_worker"])
    uid = _user("slow@example.com")
    job = uploads.submit_photo(astronaut_jpeg(), user_id=uid, anon_token=None)
    done = _wait_final(job.id, timeout=30)
    fault_summary(
        "provider-timeout",
        injected=1,
        survived=int(done.status == "FAILED"),
        lost=int(done.status not in ("DONE", "FAILED")),
        reason=done.error_key,
    )
    assert done.status == "FAILED" and done.error_key == "generation.timeout", done.error_detail
    assert "JobTimeoutException" in done.error_detail
    assert translate(done.error_key, "en") == "Enhancing this photo took too long. Please try again."
    with session_scope() as s:
        assert jobs.variants_of(s, job.id) == []
        assert ledger_check.verify(s).ok
    assert _balance(uid) == ledger.Balance(total=23, held=0)  # the reservation was released
