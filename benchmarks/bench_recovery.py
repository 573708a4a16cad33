"""Benchmark: worker death -> the job runs again, with default settings and RQ's scheduler on.

Starts a private stack (temp data folder, SQLite, private Redis, one sweeper with the default
``LASHME_SWEEP_INTERVAL``; heartbeat settings are the defaults too).  Each round starts a worker
(scheduler on: when the lock is free its scheduler takes ``rq:scheduler-lock:<queue>``) whose
provider blocks inside the job, uploads a photo, SIGKILLs the worker's whole tree (worker, work
horse, scheduler) mid-job, starts a replacement worker (as a supervisor would) and measures the
time from the kill until a new run has claimed the job (its ``run_token`` went up).  Prints each
round, then p50/p95/max, split by whether the killed worker held the scheduler lock.
Target (issue 17): p95 <= 15 s.  Asserts nothing.

    .venv/bin/python benchmarks/bench_recovery.py [--kills 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20, help="rounds (each one SIGKILL), default 20")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lashme-bench-recovery-"))
    os.environ.update(LASHME_DATA_DIR=str(tmp / "data"), DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}")
    for name in ("LASHME_WORKER_MONITORING_INTERVAL", "LASHME_WORKER_HEARTBEAT_GRACE", "LASHME_SWEEP_INTERVAL"):
        os.environ.pop(name, None)  # the defaults are what is measured
    os.environ["LASHME_WORKER_SCHEDULER"] = "1"
    from lashme.ops.redis_server import start_redis

    redis = start_redis(tmp / "redis")
    os.environ["REDIS_URL"] = redis.url
    from lashme.ops.launcher import migrate

    migrate(dict(os.environ))
    from lashme.ops.settings import get_settings
    from tests.integration.faultkit import Procs

    s = get_settings()
    print(
        f"defaults: monitoring interval {s.worker_monitoring_interval} s, heartbeat grace "
        f"{s.worker_heartbeat_grace} s, sweep interval {s.sweep_interval} s; scheduler on; {args.kills} kills"
    )
    procs = Procs(tmp, dict(os.environ))
    results: list[tuple[float, bool]] = []
    try:
        procs.sweeper(interval=s.sweep_interval)
        for i in range(args.kills):
            results.append(_round(i, procs, tmp))
    finally:
        procs.stop_all()
        redis.stop()
    _report(results)


def _round(i: int, procs, tmp: Path) -> tuple[float, bool]:
    from lashme.jobs import queue, sweeper, uploads
    from lashme.models import Job
    from lashme.ops.db import session_scope
    from tests.integration.faultkit import wait_until
    from tests.integration.test_recovery import GATED_WORKER
    from tests.photos import coffee_jpeg

    def token_and_status(job_id: str) -> tuple[int, str]:
        with session_scope() as s:
            job = s.get(Job, job_id)
            return job.run_token, str(job.status)

    gate = tmp / f"gate-{i}"
    q = queue.get_queue()
    env = dict(procs.env) | {"TEST_GATE": str(gate)}
    victim = procs.start(f"victim-{i}", ["-c", GATED_WORKER], env=env)
    # give its scheduler a moment to take the lock when it is free (the sweeper frees a dead holder's)
    try:
        wait_until(lambda: sweeper.scheduler_lock_holder(q)[1], 12, 0.1)
    except AssertionError:
        pass
    holder, alive = sweeper.scheduler_lock_holder(q)
    held = bool(alive and holder and _holder_pid(q, holder) in _tree(victim.pid))
    job = uploads.submit_photo(coffee_jpeg(size=(1200, 800)), user_id=None, anon_token=f"bench-{i}")
    wait_until(lambda: Path(f"{gate}.entered").exists(), 60, 0.02, what="job inside the provider")
    procs.kill(victim)
    killed = time.monotonic()
    gate.touch()
    survivor = procs.worker(f"survivor-{i}")
    wait_until(lambda: token_and_status(job.id)[0] >= 2, 180, 0.05, what="job running again")
    seconds = time.monotonic() - killed
    print(f"kill {i + 1:2d}: running again after {seconds:5.1f} s (killed worker held the scheduler lock: {held})")
    wait_until(lambda: token_and_status(job.id)[1] == "DONE", 120, 0.1, what="job done")
    procs.kill(survivor, sig=15)  # SIGTERM: a clean stop releases its scheduler lock
    return seconds, held


def _holder_pid(q, name: str) -> int:
    from rq.scheduler import SCHEDULER_KEY_TEMPLATE

    pid = q.connection.hget(SCHEDULER_KEY_TEMPLATE % name, "pid")
    return int(pid) if pid else -1


def _tree(pid: int) -> set[int]:
    from tests.integration.faultkit import child_pids

    found, todo = {pid}, [pid]
    while todo:
        for child in child_pids(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _report(results: list[tuple[float, bool]]) -> None:
    def line(label: str, xs: list[float]) -> None:
        if not xs:
            print(f"{label}: no rounds")
            return
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, max(0, round(0.95 * len(xs)) - 1))]
        print(f"{label}: n={len(xs)} p50={statistics.median(xs):.1f} s p95={p95:.1f} s max={xs[-1]:.1f} s")

    line("all kills", [s for s, _ in results])
    line("killed worker held the scheduler lock", [s for s, h in results if h])
    line("killed worker did not hold it", [s for s, h in results if not h])
    print("target: p95 <= 15 s")


if __name__ == "__main__":
    main()
