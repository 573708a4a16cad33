"""Fault figures for the embedded stack's supervision (issue 17, item 1).

Starts the whole stack with the launcher (``start_stack``: private Redis, worker, sweeper, the
Reflex app in prod mode; SQLite and files in a temp folder), keeps a trickle of uploads going
(one every ``--every`` seconds, through the same core function the upload page calls), probes
``/ping`` and ``/readyz`` every 0.2 s, and kills -9 the worker, the sweeper and the private Redis
``--kills`` times each.  Prints: the restart time of each kill (kill → the supervisor's restarted
process), how often the site answered, what ``/readyz`` said while something was down, jobs lost
or stuck, and ledger keys written twice (credits doubled).

    .venv/bin/python benchmarks/fault_supervision.py [--kills 5] [--every 1.0]

The first run builds the web app into ``.web-bench`` (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    """Run the fault rounds and print the figures; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between uploads")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lashme-fault-"))
    os.environ.update(
        LASHME_DATA_DIR=str(tmp / "data"),
        DATABASE_URL=f"sqlite:///{tmp / 'fault.db'}",
        LASHME_SWEEP_INTERVAL="2",
        LASHME_SWEEP_GRACE="5",
    )
    os.environ.pop("REDIS_URL", None)
    from lashme.ops.launcher import start_stack
    from lashme.ops.redis_server import free_port

    stack = start_stack(
        port=free_port(), workers=1, env=dict(os.environ), log_dir=tmp / "logs", web_dir=ROOT / ".web-bench"
    )
    os.environ["REDIS_URL"] = stack.env["REDIS_URL"]

    from lashme.credits import pricing
    from lashme.jobs import queue, uploads
    from lashme.models import Job, JobStatus
    from lashme.ops.db import session_scope
    from tests.integration.faultkit import Procs, duplicate_ledger_keys
    from tests.photos import astronaut_jpeg

    with session_scope() as s:
        pricing.set_price(s, "daily_limit_anon", 100000, actor="fault")
    photo = astronaut_jpeg((640, 640))
    stop = threading.Event()
    probes = {"ok": 0, "fail": 0}
    readyz_down: set[str] = set()
    job_ids: list[str] = []
    upload_errors: list[str] = []

    def probe() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{stack.url}/ping", timeout=2) as resp:
                    probes["ok" if resp.status == 200 else "fail"] += 1
            except OSError:
                probes["fail"] += 1
            try:
                with urllib.request.urlopen(f"{stack.url}/readyz", timeout=4) as resp:
                    readyz_down.update(json.loads(resp.read()).get("down", []))
            except urllib.error.HTTPError as err:
                readyz_down.update(json.loads(err.read()).get("down", []))
            except OSError:
                pass
            stop.wait(0.2)

    def trickle() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                job = uploads.submit_photo(
                    photo, user_id=None, anon_token=f"fault-{n % 7}", client_ip="10.0.0.1"
                )
                job_ids.append(job.id)
            except Exception as exc:  # noqa: BLE001 - counted, never fatal
                upload_errors.append(type(exc).__name__)
            stop.wait(args.every)

    threads = [threading.Thread(target=probe, daemon=True), threading.Thread(target=trickle, daemon=True)]
    for t in threads:
        t.start()
    restart_s: dict[str, list[float]] = {"worker-0": [], "sweeper": [], "redis": []}
    try:
        time.sleep(3)
        for round_ in range(args.kills):
            for name in restart_s:
                child = stack.supervised[name]
                before = child.restarts
                killed = time.monotonic()
                if name == "redis":
                    child.process.kill()
                else:
                    Procs.kill(child.process)
                while child.restarts == before and time.monotonic() - killed < 60:
                    time.sleep(0.02)
                restart_s[name].append(time.monotonic() - killed)
                if name == "redis":
                    queue.get_redis.cache_clear()
                time.sleep(2)
            print(f"round {round_ + 1}/{args.kills} done", flush=True)
        deadline = time.monotonic() + 300
        stop.set()
        while time.monotonic() < deadline:
            with session_scope() as s:
                waiting = [
                    j for j in job_ids if s.get(Job, j).status in (JobStatus.PENDING, JobStatus.PROCESSING)
                ]
            if not waiting:
                break
            time.sleep(1)
        with session_scope() as s:
            outcome: dict[str, int] = {}
            for j in job_ids:
                status = str(s.get(Job, j).status)
                outcome[status] = outcome.get(status, 0) + 1
        doubled = duplicate_ledger_keys()
    finally:
        stop.set()
        stack.stop()
    print("\nkill -9 → restarted (s), per process:")
    for name, times in restart_s.items():
        print(
            f"  {name:9s} n={len(times)} min={min(times):.2f} median={statistics.median(times):.2f}"
            f" max={max(times):.2f}  all={[round(t, 2) for t in times]}"
        )
    total = probes["ok"] + probes["fail"]
    print(f"/ping answered {probes['ok']}/{total} probes ({100 * probes['ok'] / max(1, total):.1f} %)")
    print(f"/readyz named as down at some point: {sorted(readyz_down)}")
    print(
        f"uploads accepted {len(job_ids)}, refused with an error {len(upload_errors)} {sorted(set(upload_errors))}"
    )
    print(f"jobs by final status: {outcome}; still PENDING/PROCESSING (stuck): {len(waiting)}")
    print(f"ledger keys written twice (credits doubled): {doubled}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
