"""The sweeper against the run's real Redis and database (no worker: jobs stay where it puts them)."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import update

from lashme.cli import main as cli_main
from lashme.jobs import queue, sweeper, uploads
from lashme.models import Job, JobStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from tests.integration.faultkit import wait_until
from tests.photos import astronaut_jpeg


@pytest.fixture(autouse=True)
def private_queue(monkeypatch, redis_conn, clean_db):
    monkeypatch.setattr(get_settings(), "queue_name", f"test-{uuid.uuid4().hex[:8]}")


def _job(status=JobStatus.PENDING, attempts=0) -> str:
    job = uploads.submit_photo(astronaut_jpeg(), user_id=None, anon_token="sweep-browser", enqueue=False)
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == job.id).values(status=status, attempts=attempts))
    return job.id


def _status(job_id: str) -> Job:
    with session_scope() as s:
        return s.get(Job, job_id)


def test_pending_job_without_rq_job_is_requeued_once(redis_conn):
    lost = _job()
    queued = _job()
    queue.enqueue_generation(queued)
    report = sweeper.sweep(grace=0)
    assert report.requeued == [lost]
    assert queue.get_queue().job_ids == [queue.rq_job_id(queued), queue.rq_job_id(lost)]
    again = sweeper.sweep(grace=0)  # now queued: left alone
    assert again.requeued == [] and queue.get_queue().count == 2


def test_recent_jobs_are_left_alone_within_the_grace_period(redis_conn):
    _job()
    assert sweeper.sweep(grace=3600).requeued == []
    assert queue.get_queue().count == 0


def test_processing_job_of_a_lost_queue_is_requeued_or_failed_when_out_of_attempts(redis_conn):
    resumable = _job(JobStatus.PROCESSING, attempts=1)
    exhausted = _job(JobStatus.PROCESSING, attempts=get_settings().job_max_attempts)
    report = sweeper.sweep(grace=0)
    assert report.requeued == [resumable] and report.failed == [exhausted]
    failed = _status(exhausted)
    assert failed.status == JobStatus.FAILED and failed.error_key == "generation.interrupted"
    assert _status(resumable).status == JobStatus.PROCESSING  # the next run resumes it


def test_cli_sweep_prints_counts(redis_conn, capsys, monkeypatch):
    _job()
    monkeypatch.setattr(get_settings(), "sweep_grace", 0)
    assert cli_main(["sweep"]) == 0
    assert '"requeued": 1' in capsys.readouterr().out


def _lock_extended(conn, times: int):
    """A predicate: True once the sweeper lock's TTL was reset ``times`` times (it only grows on a reset)."""
    state = {"last": conn.pttl(sweeper.LOCK_KEY), "resets": 0}

    def check() -> bool:
        ttl = conn.pttl(sweeper.LOCK_KEY)
        if ttl > state["last"]:
            state["resets"] += 1
        state["last"] = ttl
        return state["resets"] >= times

    return check


def test_the_sweeper_lock_is_held_for_a_sweep_longer_than_the_interval(redis_conn, monkeypatch):
    """interval 1 s: the lock's TTL is 1 s (the minimum) and it is extended every 1/3 s; the sweep
    lasts until it was extended 4 times (past its TTL); no second sweeper may start meanwhile."""
    real_sweep = sweeper.sweep
    seen: dict = {}

    def slow_sweep(**kw):
        wait_until(_lock_extended(redis_conn, 4), 10, 0.02, what="the lock extended 4 times")
        seen["second_sweeper"] = sweeper.sweep_if_first(redis_conn, interval=1)
        seen["ttl_ms"] = redis_conn.pttl(sweeper.LOCK_KEY)
        return real_sweep(grace=3600, **kw)

    monkeypatch.setattr(sweeper, "sweep", slow_sweep)
    report = sweeper.sweep_if_first(redis_conn, interval=1)
    assert report is not None
    assert seen["second_sweeper"] is None and seen["ttl_ms"] > 0
    # after the sweep the lock lives one more TTL (one sweeper per interval), then expires
    assert 0 < redis_conn.pttl(sweeper.LOCK_KEY) <= 1000
    monkeypatch.setattr(sweeper, "sweep", real_sweep)
    started = time.monotonic()
    wait_until(lambda: sweeper.sweep_if_first(redis_conn, interval=1) is not None, 5, 0.05, what="lock expiry")
    assert time.monotonic() - started > 0.5  # not before the lock's last TTL ran out


def _schedule_due_job(q) -> str:
    from datetime import UTC, datetime, timedelta

    job = q.enqueue_at(datetime.now(UTC) - timedelta(seconds=1), "lashme.jobs.tasks.generate", "x" * 32)
    return job.id


def _fake_scheduler(conn, q, name: str, *, pid: int, beat_age: float) -> None:
    """A scheduler that holds ``q``'s lock, as RQ writes it (lock value = name, metadata hash)."""
    import socket
    from datetime import UTC, datetime, timedelta

    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
    from rq.utils import utcformat

    conn.set(RQScheduler.get_locking_key(q.name), name, ex=61)
    beat = utcformat(datetime.now(UTC) - timedelta(seconds=beat_age))
    conn.hset(
        SCHEDULER_KEY_TEMPLATE % name,
        mapping={"name": name, "hostname": socket.gethostname(), "pid": str(pid), "last_heartbeat": beat},
    )


def test_a_scheduler_lock_held_by_a_dead_worker_does_not_hold_back_due_retries(redis_conn):
    """A worker SIGKILLed while running RQ's scheduler leaves its lock for 61 s: the sweeper sees the
    holder is dead (no process, no heartbeat), releases the lock and moves the due retry itself."""
    q = queue.get_queue()
    rid = _schedule_due_job(q)
    _fake_scheduler(redis_conn, q, "dead-one", pid=2**22 + 7, beat_age=30)
    assert sweeper.scheduler_lock_holder(q) == ("dead-one", False)
    report = sweeper.sweep(grace=3600)
    assert report.dead_scheduler == "dead-one" and report.scheduled == 1
    assert q.job_ids == [rid]


def test_a_live_scheduler_keeps_its_lock_and_its_work(redis_conn):
    import os

    q = queue.get_queue()
    _schedule_due_job(q)
    _fake_scheduler(redis_conn, q, "live-one", pid=os.getpid(), beat_age=0.5)
    assert sweeper.scheduler_lock_holder(q) == ("live-one", True)
    report = sweeper.sweep(grace=3600)
    assert report.dead_scheduler is None and report.scheduled == 0 and q.count == 0
    # the same holder without heartbeats for longer than SCHEDULER_STALE_AFTER counts as dead
    _fake_scheduler(redis_conn, q, "live-one", pid=os.getpid(), beat_age=sweeper.SCHEDULER_STALE_AFTER + 1)
    assert sweeper.scheduler_lock_holder(q) == ("live-one", False)
