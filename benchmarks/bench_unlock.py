"""Benchmark: unlock tap → the clean image on the card, and → the clean full-size file ready, for a 12 MP upload.

Run from the repository root::

    python benchmarks/bench_unlock.py [--jobs 2]

Sets up a private SQLite database, Redis and one real worker process (``worker.py``), uploads a
4032x3024 JPEG per job and waits until its 4 variants are DONE.  Then, for each variant, it times
what the page does after the confirming tap:

- *clean card*: the unlock use-case (charge + render request, as ``JobState.confirm_unlock``
  runs it) and the page's re-read in the same event (``lashme.app.job.get``) until the card's
  URL is the clean preview (the private rendition stored at generation), fetched from storage
  (what the browser downloads);
- *full size*: then the worker rendering the full-size image and crops, the job-channel
  message the page's watcher waits for, and its re-reads until the card says ``ready``; the
  full-size file is fetched and its size checked against the upload's.

Prints p50/p90/max of both and the worker's own render time.  Targets: clean card p50 <= 1 s,
full size p50 <= 2 s.  Not a test: timings depend on the machine.
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
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (4032, 3024)
TARGET_S = 2.0  # tap -> clean full-size file ready
CARD_TARGET_S = 1.0  # tap -> clean image on the card


def main() -> None:
    """Set up a private stack, run the unlocks, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="12 MP uploads (4 unlocks each)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lashme-bench-unlock-"))
    os.environ.update(LASHME_DATA_DIR=str(tmp / "data"), DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}")
    from lashme.ops.redis_server import start_redis

    redis = start_redis(tmp / "redis")
    os.environ["REDIS_URL"] = redis.url
    from lashme.ops.launcher import migrate

    migrate(dict(os.environ))
    log = open(tmp / "worker.log", "wb")  # noqa: SIM115 - owned by the worker process
    worker = subprocess.Popen(
        [sys.executable, "worker.py"], cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _run(args.jobs)
    finally:
        worker.terminate()
        worker.wait(20)
        redis.stop()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise SystemExit(f"{what} not reached within {timeout:.0f} s")


def _run(n_jobs: int) -> None:
    from sqlalchemy import select

    from lashme.accounts import auth
    from lashme.app import job as app_job
    from lashme.app import variant as app_variant
    from lashme.app.caller import Caller
    from lashme.credits import ledger
    from lashme.files import downloads
    from lashme.files.storage import get_storage
    from lashme.jobs import queue, uploads
    from lashme.models import JobEvent, LedgerKind
    from lashme.ops.db import session_scope
    from tests.photos import photo_jpeg

    data = photo_jpeg("astronaut", SIZE)
    with session_scope() as s:
        uid = auth.sign_up(s, email="bench@example.com", password="Secret123", signup_bonus=0).id
        ledger.post(
            s,
            user_id=uid,
            delta=100,
            kind=LedgerKind.GRANT,
            reason="benchmark",
            idempotency_key="bench-grant",
        )
    caller = Caller(user_id=uid, anon_token=None, roles=frozenset(), locale="ru", ip=None)
    storage = get_storage()
    totals, cards, renders = [], [], []
    print(f"upload {SIZE[0]}x{SIZE[1]} ({len(data) / 1e6:.1f} MB), {n_jobs} job(s), 1 worker")
    for _ in range(n_jobs):
        job = uploads.submit_photo(data, user_id=uid, anon_token=None)
        view = _wait(
            lambda job_id=job.id: (v := app_job.get(caller, job_id)).final and v, 600, "the job to finish"
        )
        assert view.status == "DONE", view.status
        for tile in view.variants:
            pubsub = queue.get_redis().pubsub()
            pubsub.subscribe(queue.job_channel(job.id))
            started = time.perf_counter()
            app_variant.unlock(caller, tile.id)  # the confirming tap's use-case
            card = next(t for t in app_job.get(caller, job.id).variants if t.id == tile.id)  # same event
            while not card.clean:  # (a variant made before clean renditions: wait for the render)
                pubsub.get_message(timeout=5.0)
                card = next(t for t in app_job.get(caller, job.id).variants if t.id == tile.id)
            key = card.preview_url.split("?", 1)[0].removeprefix("/files/")
            storage.get(unquote(key))  # the browser downloads the clean preview
            cards.append(time.perf_counter() - started)
            while card.fullres != "ready":  # the page's watcher: wake on the job channel, re-read
                pubsub.get_message(timeout=5.0)
                card = next(t for t in app_job.get(caller, job.id).variants if t.id == tile.id)
            full = storage.get(downloads.variant_file(tile.id, "full", user_id=uid)[0])  # the download
            totals.append(time.perf_counter() - started)
            assert _size(full) == SIZE, _size(full)
            pubsub.close()
        with session_scope() as s:
            renders += [
                float(e.data.get("seconds", 0))
                for e in s.execute(
                    select(JobEvent).where(JobEvent.job_id == job.id, JobEvent.kind == "fullres")
                ).scalars()
                if (e.data or {}).get("state") == "ready"
            ]
    _report("unlock tap -> clean image on the card", cards, CARD_TARGET_S)
    _report("unlock tap -> clean full-size file ready", totals, TARGET_S)
    if renders:
        print(
            f"worker render (full size + 3 crops + clean preview/thumb): median {statistics.median(renders):.2f} s"
        )


def _size(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return img.size


def _report(what: str, seconds: list[float], target: float) -> None:
    seconds = sorted(seconds)
    p50 = statistics.median(seconds)
    p90 = seconds[min(len(seconds) - 1, int(round(0.9 * (len(seconds) - 1))))]
    print(
        f"{what}: p50 {p50:.2f} s  p90 {p90:.2f} s  max {seconds[-1]:.2f} s"
        f"  (n={len(seconds)}; target p50 <= {target:.1f} s: {'met' if p50 <= target else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
