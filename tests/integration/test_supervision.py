"""The embedded stack heals itself: the launcher's supervisor restarts a killed worker, sweeper or
private Redis with backoff, logs each restart and says what is down; an upload while Redis is
down is accepted (PENDING, ``queue_deferred``) and runs once Redis is back.

Real processes: ``worker.py``, ``lashme sweep --loop`` and a private ``redis-server``, supervised
by :class:`lashme.ops.launcher.Supervisor` exactly as ``start_stack`` does (the Reflex app server
itself is left out: building it takes minutes and its death simply ends the stack).
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
from redis import Redis
from sqlalchemy import func, select

from lashme.accounts import daily_limits, throttle
from lashme.jobs import queue, uploads
from lashme.models import Job, JobStatus
from lashme.ops import launcher
from lashme.ops.db import session_scope
from lashme.ops.redis_server import start_redis
from lashme.ops.settings import get_settings
from tests.integration.faultkit import Procs, wait_until
from tests.photos import astronaut_jpeg


def _status(path) -> dict:
    return json.loads(path.read_text())["processes"]


@pytest.fixture
def supervised(tmp_path, monkeypatch, clean_db):
    """A private Redis, one worker and a fast sweeper under a Supervisor; this process uses that Redis."""
    logs = tmp_path / "logs"
    logs.mkdir()
    redis = start_redis(tmp_path / "redis")
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis.url,
        LASHME_SWEEP_GRACE="1",
        LASHME_SWEEP_INTERVAL="0.5",
        LASHME_WORKER_SCHEDULER="0",
    )
    for name, value in env.items():
        if name in ("REDIS_URL", "LASHME_SWEEP_GRACE", "LASHME_SWEEP_INTERVAL"):
            monkeypatch.setenv(name, value)
    _forget_connections()
    spawn = launcher._spawn
    worker = [sys.executable, "worker.py"]
    sweeper = [sys.executable, "-m", "lashme.cli", "sweep", "--loop", "--interval", "0.5"]
    children = [
        launcher.Supervised("redis", lambda: start_redis(tmp_path / "redis", port=redis.port), handle=redis),
        launcher.Supervised("worker-0", lambda: spawn(worker, env, logs / "worker-0.log")),
        launcher.Supervised("sweeper", lambda: spawn(sweeper, env, logs / "sweeper.log")),
    ]
    for child in children:
        if child.handle is None:
            child.launch()
        else:
            child.started_at = time.monotonic()
    status_file = logs / "processes.json"
    sup = launcher.Supervisor(children, status_file)
    sup.start()
    yield sup, {c.name: c for c in children}, status_file
    sup.stop()
    for child in children:
        if child.name != "redis" and child.process.poll() is None:
            Procs.kill(child.process)
    children[0].handle.stop()
    _forget_connections()


def _forget_connections() -> None:
    get_settings.cache_clear()
    queue.get_redis.cache_clear()
    daily_limits._limiter.cache_clear()
    throttle._limiter.cache_clear()


def _kill_and_time_restart(sup, child, status_file) -> float:
    before = child.restarts
    started = time.monotonic()
    if child.name == "redis":
        child.process.kill()
    else:
        Procs.kill(child.process)
    wait_until(
        lambda: _status(status_file)[child.name]["state"] == "restarting" or child.restarts > before,
        5,
        0.02,
        what=f"{child.name} noticed as down",
    )
    wait_until(lambda: child.restarts > before, 30, 0.05, what=f"{child.name} restarted")
    wait_until(lambda: _status(status_file)[child.name]["state"] == "running", 5, 0.05, what="status running")
    return time.monotonic() - started


def test_killed_worker_sweeper_and_redis_are_restarted_and_logged(supervised, capsys):
    sup, children, status_file = supervised
    figures = {}
    for name in ("worker-0", "sweeper", "redis"):
        figures[name] = _kill_and_time_restart(sup, children[name], status_file)
    print("\nrestart after kill -9 (s): " + ", ".join(f"{k}={v:.2f}" for k, v in figures.items()))
    assert all(v < 5 for v in figures.values())
    assert Redis.from_url(children["redis"].handle.url).ping()  # same port: clients reconnect as they are
    logged = capsys.readouterr()
    text = logged.out + logged.err  # structlog: the console renderer here, JSON under the launcher
    assert text.count("process restarting") == 3 and text.count("process restarted") == 3
    state = _status(status_file)
    assert {name: s["restarts"] for name, s in state.items()} == {"redis": 1, "worker-0": 1, "sweeper": 1}
    assert state["worker-0"]["last_exit"] == -9


def test_quick_crashes_back_off_doubling(supervised):
    sup, children, status_file = supervised
    sweeper = children["sweeper"]
    gaps = []
    for _ in range(3):  # each run is far shorter than STABLE_AFTER: the delay doubles
        before = sweeper.restarts
        Procs.kill(sweeper.process)
        killed = time.monotonic()
        wait_until(lambda b=before: sweeper.restarts > b, 30, 0.02, what="sweeper restarted")
        gaps.append(time.monotonic() - killed)
    print("\nbackoff gaps (s): " + ", ".join(f"{g:.2f}" for g in gaps))
    assert gaps[0] >= launcher.BACKOFF_FIRST * 0.8
    assert gaps[1] >= launcher.BACKOFF_FIRST * 2 * 0.8 and gaps[2] >= launcher.BACKOFF_FIRST * 4 * 0.8
    assert gaps[2] > gaps[0]


def test_upload_while_redis_is_down_is_accepted_and_runs_when_it_is_back(supervised):
    sup, children, status_file = supervised
    # a first job runs normally
    first = uploads.submit_photo(
        astronaut_jpeg((640, 640)), user_id=None, anon_token="visitor-ok", client_ip="10.1.1.1"
    )
    wait_until(lambda: _job(first.id).status == JobStatus.DONE, 120, 0.2, what="first job done")
    # Redis dies; the supervisor brings it back after the backoff. Uploads meanwhile must not be lost
    sup.stop()  # hold the restart so the upload really meets a dead Redis
    children["redis"].process.kill()
    children["redis"].process.wait(5)
    job = uploads.submit_photo(
        astronaut_jpeg((640, 640)), user_id=None, anon_token="visitor-x", client_ip="10.1.1.2"
    )
    assert job.status == JobStatus.PENDING
    assert uploads.queue_deferred(job.id)
    # the daily limit still holds without Redis (counted in the database for this browser)
    with pytest.raises(daily_limits.DailyLimitReached):
        for _ in range(5):
            uploads.submit_photo(
                astronaut_jpeg((640, 640)), user_id=None, anon_token="visitor-x", client_ip="10.1.1.2"
            )
    # the supervisor resumes, restarts Redis; the sweeper enqueues the waiting jobs; the worker runs them
    resumed = launcher.Supervisor(sup.children, status_file)
    resumed.start()
    try:
        wait_until(lambda: children["redis"].restarts == 1, 15, 0.05, what="redis restarted")
        queue.get_redis.cache_clear()
        wait_until(lambda: _job(job.id).status == JobStatus.DONE, 180, 0.3, what="deferred job done")
    finally:
        resumed.stop()
    waiting = _waiting()
    wait_until(lambda: _waiting() == 0, 180, 0.5, what="every accepted job finished")
    print(
        f"\nupload during a Redis outage: accepted PENDING, done after Redis came back; waiting then {waiting}"
    )


def _job(job_id: str) -> Job:
    with session_scope() as s:
        return s.get(Job, job_id)


def _waiting() -> int:
    with session_scope() as s:
        return s.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.status.in_([JobStatus.PENDING, JobStatus.PROCESSING]))
        )
