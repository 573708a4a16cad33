"""generation.run in-process: idempotent retries, resume after worker loss, failure paths."""

from __future__ import annotations

import pytest

from lashme.jobs import generation, uploads
from lashme.jobs import lifecycle as jobs
from lashme.models import Job, JobStatus, Variant
from lashme.ops.db import session_scope
from lashme.providers.base import ProviderError
from lashme.providers.studio import StudioProvider
from tests.dbutil import count
from tests.photos import coffee_jpeg


class FlakyProvider:
    """Raises a transient error ``failures`` times, then delegates to studio."""

    name = "studio"

    def __init__(self, failures: int, transient: bool = True):
        self.failures, self.transient, self.calls = failures, transient, 0

    def generate(self, original, presets):
        self.calls += 1
        if self.calls <= self.failures:
            err = ProviderError("provider timed out")
            err.transient, err.reason_key = self.transient, "generation.failed"
            raise err
        return StudioProvider().generate(original, presets)


@pytest.fixture
def job_id(clean_db, redis_conn):
    return uploads.submit_photo(coffee_jpeg(), user_id=None, anon_token="tok", enqueue=False).id


def _status(job_id):
    with session_scope() as s:
        return s.get(Job, job_id)


def test_run_twice_does_not_duplicate_variants(job_id):
    assert generation.run(job_id) == JobStatus.DONE
    assert generation.run(job_id) == "skipped"
    with session_scope() as s:
        assert count(s, Variant, Variant.job_id == job_id) == 4


def test_resume_after_worker_died_mid_job(job_id):
    with session_scope() as s:
        jobs.transition(s, job_id, JobStatus.PROCESSING)  # a worker claimed it, then was killed
    assert generation.run(job_id) == JobStatus.DONE
    job = _status(job_id)
    assert job.attempts == 2
    with session_scope() as s:
        assert count(s, Variant, Variant.job_id == job_id) == 4
        assert any(e.message == "resumed after worker loss" for e in jobs.events_of(s, job_id))


def test_transient_error_goes_back_to_queue_then_succeeds(job_id):
    provider = FlakyProvider(failures=1)
    with pytest.raises(generation.RetryableJobError):
        generation.run(job_id, provider=provider)
    assert _status(job_id).status == JobStatus.PENDING
    assert generation.run(job_id, provider=provider) == JobStatus.DONE


def test_transient_errors_exhaust_attempts_then_fail(job_id):
    provider = FlakyProvider(failures=99)
    for _ in range(2):
        with pytest.raises(generation.RetryableJobError):
            generation.run(job_id, provider=provider)
    assert generation.run(job_id, provider=provider) == JobStatus.FAILED
    job = _status(job_id)
    assert job.status == JobStatus.FAILED and job.attempts == 3 and job.error_key == "generation.failed"


def test_permanent_error_fails_at_once(job_id):
    assert generation.run(job_id, provider=FlakyProvider(failures=1, transient=False)) == JobStatus.FAILED


def test_unexpected_exception_fails_with_readable_reason(job_id):
    class Broken:
        name = "studio"

        def generate(self, original, presets):
            raise ZeroDivisionError("bug")

    assert generation.run(job_id, provider=Broken()) == JobStatus.FAILED
    job = _status(job_id)
    assert job.error_key == "generation.failed" and "ZeroDivisionError" in job.error_detail


def test_failure_callback_fails_only_when_no_retry_left(job_id):
    from lashme.jobs import tasks

    class RQJob:
        args = [job_id]
        retries_left = 1

    tasks.on_generate_failure(RQJob, None, RuntimeError, RuntimeError("killed"), None)
    assert _status(job_id).status == JobStatus.PENDING
    RQJob.retries_left = 0
    tasks.on_generate_failure(RQJob, None, RuntimeError, RuntimeError("killed"), None)
    assert _status(job_id).status == JobStatus.FAILED


def test_a_job_failed_elsewhere_mid_run_is_not_brought_back_by_a_retry(clean_db, redis_conn):
    """The abandoned-job callback fails the job (releasing credits) while the old attempt is still
    running; when that attempt then hits a transient error it must not requeue the job."""
    from lashme.accounts import auth
    from lashme.credits import ledger, ledger_check, pricing

    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
        uid = auth.sign_up(s, email="late@example.com", password="Secret123", signup_bonus=3).id
    jid = uploads.submit_photo(coffee_jpeg(), user_id=uid, anon_token=None, enqueue=False).id

    class FailedMeanwhile:
        name = "studio"

        def generate(self, original, presets):
            generation.fail(jid, error_key="generation.failed", detail="worker lost")
            raise ProviderError("timeout", transient=True)

    assert generation.run(jid, provider=FailedMeanwhile()) == JobStatus.FAILED
    with session_scope() as s:
        assert s.get(Job, jid).status == JobStatus.FAILED
        assert ledger.get_balance(s, uid) == ledger.Balance(total=3, held=0)
        assert ledger_check.verify(s).ok


def test_a_job_past_its_attempts_is_failed_not_run_again(job_id):
    """A sweeper re-enqueue starts RQ's retry count afresh; the job's own attempt count still caps it."""
    from sqlalchemy import update

    from lashme.ops.settings import get_settings

    with session_scope() as s:
        s.execute(update(Job).where(Job.id == job_id).values(attempts=get_settings().job_max_attempts))
    provider = FlakyProvider(failures=0)
    assert generation.run(job_id, provider=provider) == JobStatus.FAILED
    job = _status(job_id)
    assert (job.status, job.error_key, provider.calls) == (JobStatus.FAILED, "generation.interrupted", 0)
    with session_scope() as s:
        assert count(s, Variant, Variant.job_id == job_id) == 0


def test_a_stale_run_can_never_finish_a_job_another_run_took_over(clean_db, redis_conn):
    """Run A is presumed dead and its job handed to run B (token 2), which finishes it; when A wakes
    up its results, its DONE, its credit capture and its failure are all refused."""
    from lashme.accounts import auth
    from lashme.credits import ledger, ledger_check, pricing
    from lashme.jobs import tasks

    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
        uid = auth.sign_up(s, email="lease@example.com", password="Secret123", signup_bonus=3).id
    jid = uploads.submit_photo(coffee_jpeg(), user_id=uid, anon_token=None, enqueue=False).id
    seen = {}

    class TakenOverMidRun:
        name = "studio"

        def generate(self, original, presets):
            seen["a_token"] = generation.current_run_token(jid)
            seen["b"] = generation.run(jid)  # the job is handed to a new run, which finishes it
            return StudioProvider().generate(original, presets)  # stale A then returns its results

    assert generation.run(jid, provider=TakenOverMidRun()) == JobStatus.DONE  # B's status, not A's
    assert seen == {"a_token": 1, "b": JobStatus.DONE}
    with session_scope() as s:
        job = s.get(Job, jid)
        variants = jobs.variants_of(s, jid)
        done = [e for e in jobs.events_of(s, jid) if e.to_status == "DONE"]
        assert job.run_token == 2 and len(done) == 1 and done[0].data["run"] == 2
        assert len(variants) == 4 and all(v.preview_key.endswith(".r2.jpg") for v in variants)
        assert ledger.get_balance(s, uid) == ledger.Balance(total=2, held=0)  # captured once
        assert ledger_check.verify(s).ok
    # the stale run's failure paths are fenced too
    assert generation.fail(jid, error_key="generation.failed", run_token=1) is False

    class RQJob:
        args = [jid]
        retries_left = 0

    generation._CURRENT_RUN[jid] = 1  # as in A's work horse after its task raised
    try:
        tasks.on_generate_failure(RQJob, None, RuntimeError, RuntimeError("late"), None)
    finally:
        generation._CURRENT_RUN.pop(jid, None)
    assert _status(jid).status == JobStatus.DONE


def test_a_stale_run_cannot_fail_or_requeue_a_job_that_is_running_elsewhere(job_id):
    from lashme.jobs.lifecycle import StaleRun

    with session_scope() as s:
        jobs.transition(s, job_id, JobStatus.PROCESSING)  # run 1 (then presumed dead)
    with session_scope() as s:  # the sweeper's requeue, then run 2 claims it
        jobs.transition(s, job_id, JobStatus.PENDING, expected=[JobStatus.PROCESSING])
        assert jobs.transition(s, job_id, JobStatus.PROCESSING).run_token == 2
    assert generation.fail(job_id, error_key="generation.failed", run_token=1) is False
    with session_scope() as s, pytest.raises(StaleRun):
        jobs.transition(s, job_id, JobStatus.PENDING, run_token=1, message="retrying")
    with session_scope() as s, pytest.raises(StaleRun):
        jobs.transition(s, job_id, JobStatus.DONE, run_token=1)
    job = _status(job_id)
    assert job.status == JobStatus.PROCESSING and job.run_token == 2
    with session_scope() as s:  # the current run still can
        jobs.transition(s, job_id, JobStatus.DONE, run_token=2)
