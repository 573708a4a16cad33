"""The real worker.py with FAL_KEY set, against the fal stand-in over HTTPS: happy path, kill + resume, cancel."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest
from rq.registry import StartedJobRegistry
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE
from sqlalchemy import select

from lashme.jobs import cancel, queue
from lashme.jobs import lifecycle as jobs
from lashme.models import JobStatus, ProviderRequest
from lashme.ops.db import session_scope
from tests.fal_support import fal_env, load_job, submit_job

pytestmark = pytest.mark.slow


class Workers:
    def __init__(self, fake, tmp_path, zygote):
        self.env = {**os.environ, **fal_env(fake)}
        self.tmp, self.procs, self.zygote = tmp_path, [], zygote

    def start(self):
        """A real ``worker.py`` process in its own session (the work horse dies with its group),
        forked from the session's pre-imported one: ~0.3 s instead of ~2.5 s of start-up."""
        name = f"worker{len(self.procs)}"
        proc = self.zygote.fork(name, self.tmp / f"{name}.log", self.env)
        self.procs.append(proc)
        return proc

    def kill(self, proc):
        """SIGKILL the worker and its work horse (RQ forks the horse into its own session)."""
        horses = psutil.Process(proc.pid).children(recursive=True)
        assert horses, "the worker has no work horse running"
        os.killpg(proc.pid, signal.SIGKILL)
        for horse in horses:
            horse.kill()
        proc.wait(10)
        psutil.wait_procs(horses, timeout=10)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def workers(fal, tmp_path, worker_zygote):
    w = Workers(fal, tmp_path, worker_zygote)
    yield w
    w.stop()


def _wait(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _request_ids(job_id):
    with session_scope() as s:
        return list(
            s.execute(
                select(ProviderRequest.request_id)
                .where(ProviderRequest.job_id == job_id)
                .order_by(ProviderRequest.index)
            ).scalars()
        )


def _final(job_id, timeout=60.0):
    return _wait(lambda: (j := load_job(job_id)).status in jobs.FINAL and j, timeout, f"job {job_id} final")


def test_worker_process_generates_four_variants_on_fal(fal, workers):
    fal.script.latency = 0.5
    workers.start()
    job_id = submit_job()
    queue.enqueue_generation(job_id)
    job = _final(job_id)
    assert job.status == JobStatus.DONE, job.error_detail
    assert fal.accepted == 4 and all(auth == "Key standin-key-id:standin-secret" for _, auth in fal.posts)
    assert job.provider_image_count == 4 and job.provider_cost_usd > 0


def test_worker_killed_after_submit_resumes_the_same_requests(fal, workers):
    fal.script.latency = 6.0
    proc = workers.start()
    job_id = submit_job()
    queue.enqueue_generation(job_id)
    submitted = _wait(lambda: len(ids := _request_ids(job_id)) == 4 and ids, 30, "4 submissions")
    workers.kill(proc)  # SIGKILL worker and work horse mid-poll
    assert load_job(job_id).status == JobStatus.PROCESSING
    # what RQ does once the dead worker's heartbeat expires: abandon + requeue (with retry backoff)
    StartedJobRegistry(queue=queue.get_queue()).cleanup(timestamp=time.time() + 10_000)
    # ... and the dead worker's scheduler lock expiring (61 s TTL), so the new worker schedules the retry
    queue.get_redis().delete(SCHEDULER_LOCKING_KEY_TEMPLATE % queue.get_queue().name)
    workers.start()
    job = _final(job_id, 60)
    assert job.status == JobStatus.DONE, job.error_detail
    assert _request_ids(job_id) == submitted and fal.accepted == 4  # nothing paid twice
    assert job.attempts == 2
    with session_scope() as s:
        assert any(e.message == "resumed after worker loss" for e in jobs.events_of(s, job_id))


def test_cancel_while_running_at_fal(fal, workers):
    fal.script.latency = 30.0
    workers.start()
    job_id = submit_job(anon_token="canceler")
    queue.enqueue_generation(job_id)
    _wait(lambda: len(_request_ids(job_id)) == 4, 30, "4 submissions")
    job = cancel.cancel_job(job_id, user_id=None, anon_token="canceler")
    assert job.status == JobStatus.CANCELED
    assert set(fal.cancels) == set(_request_ids(job_id))  # the worker may cancel again: harmless
    # the worker notices, stops polling and leaves the job CANCELED
    _wait(lambda: not StartedJobRegistry(queue=queue.get_queue()).get_job_ids(), 20, "worker to stop")
    assert load_job(job_id).status == JobStatus.CANCELED
    with session_scope() as s:
        kinds = [e.kind for e in jobs.events_of(s, job_id)]
    assert kinds.count("provider_canceled") == 4
