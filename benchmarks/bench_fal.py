"""Benchmark: fal jobs through real worker.py processes against the fal stand-in at 5 s latency.

Starts a private stack (temp data folder, SQLite, private Redis, the HTTPS fal stand-in from
``tests/fakes``), then for 1, 2 and 4 worker processes queues ``--jobs`` jobs at once and prints
jobs per minute and the worker overhead per job (job start → finish, minus the stand-in latency).
Asserts nothing.

    .venv/bin/python benchmarks/bench_fal.py [--jobs 8] [--latency 5] [--poll 1.0] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--poll", type=float, default=1.0, help="LASHME_FAL_POLL_INTERVAL, seconds")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lashme-bench-fal-"))
    from tests.fakes.fal_server import FalStandIn, Script

    with FalStandIn(Script(latency=args.latency)) as fake:
        os.environ.update(
            LASHME_DATA_DIR=str(tmp / "data"),
            DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
            FAL_KEY="bench-key:secret",
            FAL_QUEUE_RUN_HOST=fake.host,
            SSL_CERT_FILE=fake.cert_file,
            LASHME_FAL_POLL_INTERVAL=str(args.poll),
        )
        from lashme.ops.redis_server import start_redis

        redis = start_redis(tmp / "redis")
        os.environ["REDIS_URL"] = redis.url
        from lashme.ops.launcher import migrate

        migrate(dict(os.environ))
        try:
            print(f"fal stand-in latency {args.latency:.1f} s, poll interval {args.poll:.2f} s, {args.jobs} jobs per run")
            for n in [int(x) for x in args.workers.split(",")]:
                _run(n, args.jobs, args.latency, tmp)
        finally:
            redis.stop()


def _run(workers: int, n_jobs: int, latency: float, tmp: Path) -> None:
    from lashme.jobs import queue, uploads
    from lashme.models import Job, JobStatus
    from lashme.ops.db import session_scope
    from tests.photos import astronaut_jpeg

    procs = [
        subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=open(tmp / f"worker-{workers}-{i}.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(workers)
    ]
    try:
        time.sleep(3)  # workers up
        photo = astronaut_jpeg()
        ids = [uploads.submit_photo(photo, user_id=None, anon_token="bench", enqueue=False).id for _ in range(n_jobs)]
        t0 = time.time()
        for job_id in ids:
            queue.enqueue_generation(job_id)
        while True:
            with session_scope() as s:
                jobs = [s.get(Job, i) for i in ids]
            if all(j.status in (JobStatus.DONE, JobStatus.FAILED) for j in jobs):
                break
            time.sleep(0.2)
        wall = max(j.finished_at.timestamp() for j in jobs) - t0
        per_job = [(j.finished_at - j.started_at).total_seconds() for j in jobs]
        failed = sum(j.status == JobStatus.FAILED for j in jobs)
        overhead = [p - latency for p in per_job]
        print(
            f"{workers} worker(s): {n_jobs / wall * 60:5.1f} jobs/min "
            f"(wall {wall:5.1f} s), per job {statistics.median(per_job):.2f} s median, "
            f"overhead {statistics.median(overhead):.2f} s median / {max(overhead):.2f} s max"
            + (f", {failed} FAILED" if failed else "")
        )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)


if __name__ == "__main__":
    main()
