"""A real RQ worker process (worker.py) against the run's real Redis processes a job end to end."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import time

import piexif
import pytest
from PIL import Image

from lashme.jobs import lifecycle as jobs
from lashme.jobs import queue, uploads
from lashme.models import Job, JobStatus
from lashme.ops.db import session_scope
from tests.integration.faultkit import Procs, child_pids
from tests.photos import astronaut_jpeg, with_gps_exif


@pytest.fixture
def worker(clean_db, redis_conn, tmp_path, worker_zygote):
    """A fresh ``worker.py`` process for each test (forked from the session's pre-imported one:
    ~0.3 s instead of ~2.5 s of start-up), stopped as the launcher stops it (SIGTERM)."""
    proc = worker_zygote.fork("worker", tmp_path / "worker.log", dict(os.environ))
    yield proc
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        Procs.kill(proc)


def _wait_final(job_id: str, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as s:
            job = s.get(Job, job_id)
            if job.status in jobs.FINAL:
                return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def test_worker_process_generates_four_variants(worker, storage, redis_conn):
    pubsub = redis_conn.pubsub()
    data = with_gps_exif(astronaut_jpeg())
    job = uploads.submit_photo(data, user_id=None, anon_token="browser-token-1", enqueue=False)
    pubsub.subscribe(queue.job_channel(job.id))
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    queue.enqueue_generation(job.id)
    done = _wait_final(job.id)
    assert done.status == JobStatus.DONE, done.error_detail
    with session_scope() as s:
        variants = jobs.variants_of(s, job.id)
        events = [(e.from_status, e.to_status) for e in jobs.events_of(s, job.id) if e.kind == "status"]
    assert [v.index for v in variants] == [0, 1, 2, 3]
    assert [v.preset for v in variants] == ["natural", "warm_glow", "crisp_detail", "soft_focus"]
    assert events == [(None, "PENDING"), ("PENDING", "PROCESSING"), ("PROCESSING", "DONE")]
    original = Image.open(io.BytesIO(storage.get(done.original_key)))
    assert "exif" not in original.info
    for v in variants:
        assert v.full_key is None and v.insta_key is None  # clean files only after an unlock
        for key in (v.preview_key, v.thumb_key):
            blob = storage.get(key)
            img = Image.open(io.BytesIO(blob))
            assert img.format == "JPEG"
            assert "exif" not in img.info and piexif.load(blob)["GPS"] == {}
        assert max(Image.open(io.BytesIO(storage.get(v.preview_key))).size) <= 480
        assert max(Image.open(io.BytesIO(storage.get(v.thumb_key))).size) <= 320
    # the worker published each status change: pages are pushed, never polled
    seen = []
    deadline = time.monotonic() + 5
    while "DONE" not in seen and time.monotonic() < deadline:
        msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if msg:
            seen.append(msg["data"].decode())
    pubsub.close()
    assert seen == ["PROCESSING", "DONE"]


def test_missing_original_fails_with_a_plain_reason(worker, storage):
    job = uploads.submit_photo(astronaut_jpeg(), user_id=None, anon_token="browser-token-2", enqueue=False)
    storage.delete_prefix(job.original_key.rsplit("/", 1)[0])
    queue.enqueue_generation(job.id)
    done = _wait_final(job.id)
    assert done.status == JobStatus.FAILED
    assert done.error_key == "generation.original_missing"


def test_worker_renders_an_unlocked_variant_at_the_uploads_resolution(worker, storage, redis_conn):
    """Unlock -> request_render (queued on commit) -> the worker renders full size, crops, clean previews."""
    from lashme.accounts import auth
    from lashme.credits import unlocks
    from lashme.jobs import fullres
    from tests.photos import photo_jpeg

    with session_scope() as s:
        uid = auth.sign_up(s, email="full@example.com", password="Secret123", signup_bonus=3).id
    job = uploads.submit_photo(photo_jpeg("coffee", (3000, 2000)), user_id=uid, anon_token=None)
    assert _wait_final(job.id).status == JobStatus.DONE
    with session_scope() as s:
        vid = jobs.variants_of(s, job.id)[3].id
        unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1)
        assert fullres.request_render(s, vid).state == fullres.PENDING
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with session_scope() as s:
            status = fullres.fullres_status(s, vid)
        if status.state in (fullres.READY, fullres.FAILED):
            break
        time.sleep(0.1)
    assert status.ready, status
    assert Image.open(io.BytesIO(storage.get(status.full_key))).size == (3000, 2000)
    assert {c.name: (c.width, c.height) for c in status.crops} == {
        "4x5": (1080, 1350),
        "1x1": (1080, 1080),
        "9x16": (1080, 1920),
    }


def _horses(worker_pid: int) -> set[int]:
    """The worker's work horses: its children that lead their own process group (RQ's scheduler does not)."""
    out = set()
    for pid in child_pids(worker_pid):
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:
                out.add(pid)
    return out


def test_one_warm_horse_runs_job_after_job_and_a_dead_horse_is_replaced(worker, storage):
    """The worker forks its work horse before the first job and hands it every job; one that dies is forked anew."""

    def run_one(token: str) -> None:
        job = uploads.submit_photo(astronaut_jpeg(), user_id=None, anon_token=token)
        done = _wait_final(job.id)
        assert done.status == JobStatus.DONE, done.error_detail

    deadline = time.monotonic() + 30
    while not (horses := _horses(worker.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(horses) == 1, "the horse is forked while the worker waits for its first job"
    run_one("warm-1")
    run_one("warm-2")
    assert _horses(worker.pid) == horses  # the same process ran both jobs
    os.kill(horses.pop(), signal.SIGKILL)  # dies while idle
    run_one("warm-3")
    assert len(_horses(worker.pid)) == 1
