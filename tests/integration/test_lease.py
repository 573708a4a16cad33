"""Per-run lease with real processes: a worker that was declared dead but was only slow can never
finish the job it lost.  Its heartbeats stop (the worker process is stopped with SIGSTOP) while its
work horse is still inside the provider; the job goes to a second worker, which finishes it; then
the first horse wakes up and tries to publish its results and settle the credits: refused."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from lashme.accounts import auth
from lashme.credits import ledger, ledger_check, pricing
from lashme.jobs import lifecycle as jobs
from lashme.jobs import uploads
from lashme.models import Job
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from tests.integration.faultkit import Procs, wait_until
from tests.integration.test_recovery import GATED_WORKER
from tests.photos import coffee_jpeg

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path, monkeypatch, clean_db, redis_conn):
    qname = f"lease-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(get_settings(), "queue_name", qname)
    env = dict(os.environ) | {
        "LASHME_QUEUE": qname,
        "LASHME_WORKER_MONITORING_INTERVAL": "1",
        "LASHME_WORKER_HEARTBEAT_GRACE": "1",
        "LASHME_WORKER_SCHEDULER": "0",
        "TEST_GATE": str(tmp_path / "gate"),
    }
    procs = Procs(tmp_path, env)
    yield procs
    procs.stop_all()


def _job(job_id: str) -> Job:
    with session_scope() as s:
        return s.get(Job, job_id)


def test_the_stale_run_of_a_worker_declared_dead_writes_nothing(stack, tmp_path):
    with session_scope() as s:
        pricing.set_price(s, "generation_cost", 1, actor="test")
        uid = auth.sign_up(s, email="lease@example.com", password="Secret123", signup_bonus=3).id
    slow = stack.start("slow", ["-c", GATED_WORKER])
    stack.sweeper(interval=0.3)
    job = uploads.submit_photo(coffee_jpeg(size=(1200, 800)), user_id=uid, anon_token=None)
    wait_until(lambda: (tmp_path / "gate.entered").exists(), 60, 0.02, what="run 1 inside the provider")
    os.kill(slow.pid, signal.SIGSTOP)  # heartbeats stop; the work horse (own session) runs on
    try:
        stack.worker("healthy")
        wait_until(lambda: _job(job.id).status == "DONE", 60, 0.05, what="run 2 finished the job")
        assert _job(job.id).run_token == 2
        (tmp_path / "gate").touch()  # run 1 leaves the provider with its results
        # run 1 is over once it has tried to publish them (its warm horse then waits for the next job:
        # the horse process outlives the run, so its exit cannot mark the end of run 1)
        slow_log = tmp_path / "slow.log"
        wait_until(
            lambda: "stale run 1 discarded its results" in slow_log.read_text(errors="replace"),
            60,
            0.05,
            what="run 1 over",
        )
    finally:
        os.kill(slow.pid, signal.SIGCONT)
    final = _job(job.id)
    with session_scope() as s:
        variants = jobs.variants_of(s, job.id)
        done = [e for e in jobs.events_of(s, job.id) if e.to_status == "DONE"]
        balance = ledger.get_balance(s, uid)
        assert ledger_check.verify(s).ok
    assert final.status == "DONE" and final.run_token == 2
    assert len(done) == 1 and done[0].data["run"] == 2
    assert len(variants) == 4 and all(v.preview_key.endswith(".r2.jpg") for v in variants)
    assert balance == ledger.Balance(total=2, held=0)  # captured once
    assert "stale run 1 discarded its results" in (tmp_path / "slow.log").read_text(errors="replace")
