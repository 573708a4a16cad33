"""Worker death with RQ's scheduler on: the job runs again within heartbeat grace + one sweep (+ a few s).

The killed worker holds RQ's scheduler lock (``rq:scheduler-lock:<queue>``, TTL 61 s): before the
fix its job's retry waited in the ScheduledJobRegistry until that lock expired (~62 s).
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from lashme.jobs import queue, sweeper, uploads
from lashme.models import Job
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from tests.integration.faultkit import Procs, wait_until
from tests.photos import coffee_jpeg

pytestmark = pytest.mark.slow

MONITORING, GRACE, SWEEP = 1, 2, 0.5
#: a worker whose provider waits for a gate file (``TEST_GATE``); it marks ``TEST_GATE.entered`` first
GATED_WORKER = """
import os, time
import lashme.jobs.generation as generation
import lashme.jobs.tasks  # noqa: F401
from lashme.jobs.rq_worker import run
from lashme.ops.logging_setup import configure
from lashme.ops.settings import get_settings
from lashme.providers.studio import StudioProvider

class Gated:
    name = "studio"

    def generate(self, original, presets):
        gate = os.environ["TEST_GATE"]
        open(gate + ".entered", "w").close()
        while not os.path.exists(gate):
            time.sleep(0.02)
        return StudioProvider().generate(original, presets)

configure("worker")
generation.get_provider = lambda name: Gated()
run(with_scheduler=get_settings().worker_scheduler)
"""


@pytest.fixture
def stack(tmp_path, monkeypatch, clean_db, redis_conn):
    qname = f"recovery-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(get_settings(), "queue_name", qname)
    env = dict(os.environ) | {
        "LASHME_QUEUE": qname,
        "LASHME_WORKER_MONITORING_INTERVAL": str(MONITORING),
        "LASHME_WORKER_HEARTBEAT_GRACE": str(GRACE),
        "LASHME_WORKER_SCHEDULER": "1",
        "TEST_GATE": str(tmp_path / "gate"),
    }
    procs = Procs(tmp_path, env)
    yield procs
    procs.stop_all()


def _run_token(job_id: str) -> tuple[int, str]:
    with session_scope() as s:
        job = s.get(Job, job_id)
        return job.run_token, str(job.status)


def test_job_of_a_killed_worker_holding_the_scheduler_lock_runs_again_in_seconds(stack, tmp_path):
    q = queue.get_queue()
    victim = stack.start("victim", ["-c", GATED_WORKER])
    wait_until(
        lambda: sweeper.scheduler_lock_holder(q)[1], 30, 0.05, what="the victim's scheduler holds the lock"
    )
    holder, _ = sweeper.scheduler_lock_holder(q)
    stack.sweeper(interval=SWEEP)
    job = uploads.submit_photo(coffee_jpeg(size=(2400, 1600)), user_id=None, anon_token="recovery")
    wait_until(lambda: (tmp_path / "gate.entered").exists(), 60, 0.02, what="the job inside the provider")
    assert _run_token(job.id) == (1, "PROCESSING")
    # the survivor is up before the victim dies, as other workers are in production: the figure is
    # the recovery, not a new worker's start-up (imports and warm-up, seconds on a loaded machine)
    stack.worker("survivor")
    survivor_log = tmp_path / "survivor.log"
    wait_until(
        lambda: survivor_log.exists() and "Listening on" in survivor_log.read_text(errors="replace"),
        60,
        0.05,
        what="the survivor listening",
    )
    stack.kill(victim)
    killed_at = time.monotonic()
    (tmp_path / "gate").touch()  # later runs pass the gate
    wait_until(lambda: _run_token(job.id)[0] >= 2, 60, 0.05, what="the job claimed by a new run")
    recovery = time.monotonic() - killed_at
    print(f"RECOVERY scheduler-lock holder killed: job running again after {recovery:.1f}s")
    assert recovery <= MONITORING + GRACE + SWEEP + 3, stack.logs()
    wait_until(lambda: _run_token(job.id)[1] == "DONE", 60, 0.1, what="the job DONE")
    sweeper_log = (tmp_path / "sweeper.log").read_text(errors="replace")
    assert "released the scheduler lock of a dead scheduler" in sweeper_log
    assert holder in sweeper_log
