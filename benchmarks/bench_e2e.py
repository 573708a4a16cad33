"""Benchmark: upload click → 4 previews visible in Chromium (p50 of N), and worker done → UI updated.

Starts its own stack (private data folder, SQLite, private Redis, 1 worker,
Reflex prod build) and prints figures; it asserts nothing.

    .venv/bin/python benchmarks/bench_e2e.py [--runs 10] [--size 4032x3024]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WAIT_JS = """
(jobId) => new Promise(resolve => {
  const ok = () => {
    const imgs = [...document.querySelectorAll('img.variant-preview')].filter(i => i.src.includes(jobId));
    return imgs.length === 4 && imgs.every(i => i.complete && i.naturalWidth > 0);
  };
  const done = () => resolve(Date.now());
  if (ok()) return done();
  const obs = new MutationObserver(() => { if (ok()) { obs.disconnect(); done(); } });
  obs.observe(document.body, {childList: true, subtree: true, attributes: true});
  document.addEventListener('load', () => { if (ok()) { obs.disconnect(); done(); } }, true);
})
"""

GRID_JS = """
(jobId) => new Promise(resolve => {
  const ok = () => [...document.querySelectorAll('img.variant-preview')].filter(i => i.src.includes(jobId)).length === 4;
  if (ok()) return resolve(Date.now());
  const obs = new MutationObserver(() => { if (ok()) { obs.disconnect(); resolve(Date.now()); } });
  obs.observe(document.body, {childList: true, subtree: true});
})
"""


def main() -> None:
    """Run the benchmark and print p50/p90 figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--size", default="", help="resize the photo first, e.g. 4032x3024 (a 12 MP phone photo)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lashme-bench-"))
    env = dict(os.environ, LASHME_DATA_DIR=str(tmp / "data"), DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}")
    env.pop("REDIS_URL", None)
    os.environ.update(LASHME_DATA_DIR=env["LASHME_DATA_DIR"], DATABASE_URL=env["DATABASE_URL"])

    from playwright.sync_api import sync_playwright
    from sqlalchemy import select

    from lashme.models import JobEvent
    from lashme.ops.db import session_scope
    from lashme.ops.launcher import start_stack
    from lashme.ops.redis_server import free_port
    from tests.browser import CHROMIUM, CHROMIUM_ARGS
    from tests.photos import grace_hopper_jpeg

    photo = tmp / "photo.jpg"
    size = tuple(int(x) for x in args.size.split("x")) if args.size else None
    photo.write_bytes(grace_hopper_jpeg(size=size))
    print(f"photo: grace_hopper {args.size or 'original 512x600'}, {photo.stat().st_size / 1e6:.2f} MB")
    stack = start_stack(port=free_port(), env=env, log_dir=tmp / "logs", web_dir=ROOT / ".web-bench")
    from lashme.credits import pricing

    with session_scope() as s:  # every run uploads as a visitor from 127.0.0.1
        pricing.set_price(s, "daily_limit_anon", 100_000, actor="benchmark")
    click_to_previews, done_to_ui = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 390, "height": 844})
            page = ctx.new_page()
            for i in range(args.runs + 1):  # the first run warms up and is not counted
                page.goto(stack.url + "/")
                page.wait_for_selector("#photo input[type=file]", state="attached")
                t0 = page.evaluate("Date.now()")
                page.locator("#photo input[type=file]").set_input_files(str(photo))
                page.wait_for_url(re.compile(r".*/job/[0-9a-f]{32}"), timeout=30_000)
                job_id = re.search(r"/job/([0-9a-f]{32})", page.url).group(1)
                grid_at = page.evaluate(GRID_JS, job_id)
                shown_at = page.evaluate(WAIT_JS, job_id)
                with session_scope() as s:
                    done = s.execute(
                        select(JobEvent.created_at).where(
                            JobEvent.job_id == job_id, JobEvent.to_status == "DONE"
                        )
                    ).scalar_one()
                if i == 0:
                    continue
                click_to_previews.append((shown_at - t0) / 1000)
                done_to_ui.append(grid_at / 1000 - done.timestamp())
            browser.close()
    finally:
        stack.stop()

    def fmt(xs):
        xs = sorted(xs)
        return (
            f"p50 {statistics.median(xs) * 1000:.0f} ms, p90 {xs[int(0.9 * (len(xs) - 1))] * 1000:.0f} ms, "
            f"min {xs[0] * 1000:.0f} ms, max {xs[-1] * 1000:.0f} ms (n={len(xs)})"
        )

    print(f"upload click -> 4 previews visible : {fmt(click_to_previews)}")
    print(f"worker DONE -> results grid in DOM : {fmt(done_to_ui)}")


if __name__ == "__main__":
    main()
