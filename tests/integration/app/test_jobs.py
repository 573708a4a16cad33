"""Job lifecycle: allowed transitions, compare-and-set claims, event trail, ownership."""

from __future__ import annotations

import pytest

from lashme.accounts import auth
from lashme.errors import NotFound
from lashme.jobs import lifecycle as jobs
from lashme.jobs.lifecycle import InvalidTransition
from lashme.models import JobStatus
from lashme.ops.db import session_scope


def _job(user_id=None, anon="tok"):
    with session_scope() as s:
        return jobs.create_job(
            s,
            job_id="a" * 32,
            user_id=user_id,
            anon_token=None if user_id else anon,
            provider="studio",
            presets=["natural"],
            original_key="k",
            width=10,
            height=10,
        )


def test_lifecycle_writes_an_event_per_change(clean_db):
    _job()
    with session_scope() as s:
        jobs.transition(s, "a" * 32, JobStatus.PROCESSING)
        jobs.transition(s, "a" * 32, JobStatus.DONE)
    with session_scope() as s:
        ev = jobs.events_of(s, "a" * 32)
        job = s.get(jobs.Job, "a" * 32)
    assert [(e.from_status, e.to_status) for e in ev] == [
        (None, "PENDING"),
        ("PENDING", "PROCESSING"),
        ("PROCESSING", "DONE"),
    ]
    assert job.attempts == 1 and job.finished_at is not None


def test_forbidden_transitions(clean_db):
    _job()
    with session_scope() as s:
        with pytest.raises(InvalidTransition):
            jobs.transition(s, "a" * 32, JobStatus.DONE)  # PENDING -> DONE skips processing
        jobs.transition(s, "a" * 32, JobStatus.CANCELED)
        with pytest.raises(InvalidTransition):
            jobs.transition(s, "a" * 32, JobStatus.PROCESSING)  # canceled is final


def test_claim_is_compare_and_set(clean_db):
    _job()
    with session_scope() as s:
        jobs.transition(s, "a" * 32, JobStatus.PROCESSING, expected=[JobStatus.PENDING])
    with session_scope() as s, pytest.raises(InvalidTransition):
        jobs.transition(s, "a" * 32, JobStatus.PROCESSING, expected=[JobStatus.PENDING])


def test_failed_keeps_a_reason(clean_db):
    _job()
    with session_scope() as s:
        job = jobs.transition(
            s, "a" * 32, JobStatus.FAILED, error_key="generation.storage_failed", error_detail="x"
        )
    assert job.error_key == "generation.storage_failed"


def test_ownership_by_user_and_by_browser_token(clean_db):
    _job(anon="browser-1")
    with session_scope() as s:
        assert jobs.get_owned_job(s, "a" * 32, user_id=None, anon_token="browser-1").id == "a" * 32
        for uid, tok in [(None, "browser-2"), (None, None), (None, ""), (5, None)]:
            with pytest.raises(NotFound):
                jobs.get_owned_job(s, "a" * 32, user_id=uid, anon_token=tok)
        user = auth.sign_up(
            s, email="x@example.com", password="Secret123", signup_bonus=0, anon_token="browser-1"
        )
    with session_scope() as s:
        assert jobs.get_owned_job(s, "a" * 32, user_id=user.id, anon_token=None).user_id == user.id
        with pytest.raises(NotFound):  # once claimed, the browser token alone no longer opens it
            jobs.get_owned_job(s, "a" * 32, user_id=None, anon_token="browser-1")


def test_a_retry_after_every_attempt_was_used_runs_again(clean_db, redis_conn):
    """FAILED → PENDING starts a fresh set of attempts, so the worker really runs the retried job."""
    from lashme.jobs import uploads
    from lashme.jobs.generation import run as run_job
    from lashme.ops.settings import get_settings
    from tests.photos import chelsea_jpeg

    with session_scope() as s:
        user = auth.sign_up(s, email="tries@example.com", password="Secret123", signup_bonus=3)
    job = uploads.submit_photo(chelsea_jpeg(), user_id=user.id, anon_token=None, enqueue=False)
    with session_scope() as s:
        for _ in range(get_settings().job_max_attempts):
            jobs.transition(s, job.id, JobStatus.PROCESSING)
            jobs.transition(s, job.id, JobStatus.PENDING, message="retrying: provider busy")
        jobs.transition(s, job.id, JobStatus.PROCESSING)
        jobs.transition(s, job.id, JobStatus.FAILED, error_key="generation.failed")
    with session_scope() as s:  # what the owner's and the admin's retry do (lashme.app)
        jobs.transition(s, job.id, JobStatus.PENDING, expected=[JobStatus.FAILED], message="retry")
    with session_scope() as s:
        assert s.get(jobs.Job, job.id).attempts == 0
    assert run_job(job.id) == JobStatus.DONE
