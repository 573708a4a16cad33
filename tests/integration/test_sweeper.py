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


def test_the_sweeper_lock_is_held_for_a_sweep_longer_than_the_interval(redis_conn, monkeypatch):
    """interval 1 s: the lock's TTL is 1 s (the minimum), the sweep takes 2.5 s; no second sweeper may start meanwhile."""
    real_sweep = sweeper.sweep
    seen: dict = {}

    def slow_sweep(**kw):
        time.sleep(2.5)
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
    time.sleep(1.1)
    assert sweeper.sweep_if_first(redis_conn, interval=1) is not None
