"""Benchmark: peak memory of one worker tree for a 12 MP upload, full-resolution renders included.

Starts a private stack (temp data folder, SQLite, private Redis) and one ``worker.py`` with
the scheduler on (its tree: the worker, RQ's scheduler process, one work horse per job).  Uploads
real photos (scikit-image's and matplotlib's samples, upscaled to 4000x3000 = 12 MP, saved as
JPEG q92: photographs, never noise), waits for the 4 previews, then unlocks all 4 variants and
waits for their full-resolution renders (each one a job of its own).  A sampler reads
``/proc/<pid>/status`` and ``/proc/<pid>/smaps_rollup`` of every process of the tree every 10 ms
and prints, per upload and overall:

- tree RSS: the largest sum of ``VmRSS`` over the tree seen in one sample (pages shared
  between the forked processes count once per process: an upper bound);
- tree PSS: the largest sum of ``Pss`` (shared pages split between their users: the memory the
  tree really holds);
- the largest single process (``VmHWM``, the kernel's own peak, so no spike is missed).

Target (issue 18): <= 350 MiB per worker tree.  Asserts nothing.

    .venv/bin/python benchmarks/bench_worker_memory.py [--photos astronaut,coffee,grace_hopper]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIB = 1024 * 1024


def _tree(pid: int) -> list[int]:
    from tests.integration.faultkit import child_pids

    found, todo = [pid], [pid]
    while todo:
        for child in child_pids(todo.pop()):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def _kib(path: str, field: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Samples the worker tree's memory every ``every`` seconds until stopped."""

    def __init__(self, pid: int, every: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.stop = pid, every, threading.Event()
        self.reset()

    def reset(self) -> None:
        """Start a new measurement window."""
        self.rss = self.pss = 0
        self.hwm: dict[int, int] = {}

    def run(self) -> None:
        """Sample until ``stop`` is set."""
        while not self.stop.is_set():
            pids = _tree(self.pid)
            rss = pss = 0
            for pid in pids:
                rss += _kib(f"/proc/{pid}/status", "VmRSS:")
                pss += _kib(f"/proc/{pid}/smaps_rollup", "Pss:")
                self.hwm[pid] = max(self.hwm.get(pid, 0), _kib(f"/proc/{pid}/status", "VmHWM:"))
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            time.sleep(self.every)

    def figures(self) -> str:
        """One line: tree RSS, tree PSS, largest process (MiB)."""
        biggest = max(self.hwm.values(), default=0)
        return (
            f"tree RSS {self.rss / 1024:6.1f} MiB  tree PSS {self.pss / 1024:6.1f} MiB  "
            f"largest process {biggest / 1024:6.1f} MiB"
        )


def main() -> None:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", default="astronaut,coffee,grace_hopper")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lashme-bench-memory-"))
    os.environ.update(LASHME_DATA_DIR=str(tmp / "data"), DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}")
    from lashme.ops.redis_server import start_redis

    redis = start_redis(tmp / "redis")
    os.environ["REDIS_URL"] = redis.url
    from lashme.ops.launcher import migrate

    migrate(dict(os.environ))
    worker = subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=open(tmp / "worker.log", "wb"),  # noqa: SIM115 - owned by the child
        stderr=subprocess.STDOUT,
    )
    sampler = Sampler(worker.pid)
    sampler.start()
    overall = {"rss": 0, "pss": 0, "proc": 0}
    try:
        _wait(lambda: _worker_registered(), 30)
        time.sleep(0.5)
        print(f"idle worker tree: {sampler.figures()}")
        for name in args.photos.split(","):
            sampler.reset()
            seconds = _one_upload(name)
            print(f"{name:12s} 12 MP upload + 4 previews + 4 full-size renders ({seconds:.1f} s): {sampler.figures()}")
            overall["rss"] = max(overall["rss"], sampler.rss)
            overall["pss"] = max(overall["pss"], sampler.pss)
            overall["proc"] = max(overall["proc"], max(sampler.hwm.values(), default=0))
    finally:
        sampler.stop.set()
        worker.terminate()
        worker.wait(20)
        redis.stop()
    print(
        f"PEAK per worker tree: RSS {overall['rss'] / 1024:.1f} MiB (shared pages counted per process), "
        f"PSS {overall['pss'] / 1024:.1f} MiB; largest process {overall['proc'] / 1024:.1f} MiB"
    )
    print("target: <= 350 MiB per worker tree")


def _worker_registered() -> bool:
    from rq import Worker

    from lashme.jobs.queue import get_redis

    return bool(Worker.all(connection=get_redis()))


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not reached")


def _one_upload(name: str) -> float:
    from lashme.accounts import auth
    from lashme.credits import unlocks
    from lashme.jobs import fullres, uploads
    from lashme.jobs import lifecycle as jobs
    from lashme.models import Job
    from lashme.ops.db import session_scope
    from tests.photos import photo_jpeg

    with session_scope() as s:
        uid = auth.sign_up(s, email=f"{name}-{time.time_ns()}@example.com", password="Secret123", signup_bonus=4).id
    data = photo_jpeg(name, (4000, 3000))
    started = time.monotonic()
    job = uploads.submit_photo(data, user_id=uid, anon_token=None)

    def status() -> str:
        with session_scope() as s:
            return str(s.get(Job, job.id).status)

    _wait(lambda: status() in ("DONE", "FAILED"), 120)
    with session_scope() as s:
        vids = [v.id for v in jobs.variants_of(s, job.id)]
        for vid in vids:
            unlocks.unlock_variant(s, user_id=uid, variant_id=vid, cost=1)
            fullres.request_render(s, vid)

    def rendered() -> bool:
        with session_scope() as s:
            return all(fullres.fullres_status(s, vid).state in ("ready", "failed") for vid in vids)

    _wait(rendered, 300)
    return time.monotonic() - started


if __name__ == "__main__":
    main()
