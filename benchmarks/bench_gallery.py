"""Benchmark: a gallery page of 24 thumbnails at 390x844 — bytes transferred and time to first grid paint.

Bytes are what crossed the wire (Resource Timing ``transferSize``: gzip-compressed
bundles as served, headers included) plus WebSocket frames; the decoded size of
every HTTP body is printed too.

Starts its own stack (private data folder, SQLite, private Redis, 1 worker,
Reflex prod build), makes 7 jobs (28 variants, so the first page is full),
then opens ``/gallery`` in fresh browser contexts (cold cache) and in one
reused context (warm cache).  First grid paint: navigation start → 24 tiles in
the DOM and every thumbnail inside the viewport decoded (thumbnails are lazy).
Prints figures; asserts nothing.  Target: <= 1 MB per cold page view.

    .venv/bin/python benchmarks/bench_gallery.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID_READY = """() => {
  const imgs = [...document.querySelectorAll('img.gallery-thumb')];
  const seen = imgs.filter(i => i.getBoundingClientRect().top < window.innerHeight);
  return imgs.length === 24 && seen.length > 0 && seen.every(i => i.complete && i.naturalWidth > 0);
}"""
#: bytes on the wire (compressed bodies + headers) from the Resource Timing API, page and subresources
WIRE_BYTES = """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .reduce((n, e) => n + (e.transferSize || 0), 0)"""
WIRE_IMAGE_BYTES = """() => performance.getEntriesByType('resource').filter(e => e.initiatorType === 'img')
  .reduce((n, e) => n + (e.transferSize || 0), 0)"""
ALL_LOADED = """() => {
  const imgs = [...document.querySelectorAll('img.gallery-thumb')];
  return imgs.length === 24 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


def _measure(page, url: str) -> tuple[float, int, int, int, int]:
    """One page view: (ms to grid, http bytes, image bytes, websocket bytes, bytes after scrolling all 24).

    Thumbnails are ``loading="lazy"``: the first paint needs only those in the
    viewport; the last figure scrolls to the end so all 24 have loaded.
    """
    http, images, ws = [0], [0], [0]

    def on_response(resp):
        try:
            size = len(resp.body())
        except Exception:  # noqa: BLE001 - redirects and aborted requests have no body
            return
        http[0] += size
        if resp.request.resource_type == "image":
            images[0] += size

    def on_ws(sock):
        sock.on("framereceived", lambda payload: ws.__setitem__(0, ws[0] + len(payload)))
        sock.on("framesent", lambda payload: ws.__setitem__(0, ws[0] + len(payload)))

    page.on("response", on_response)
    page.on("websocket", on_ws)
    page.goto(url)
    page.wait_for_function(GRID_READY, timeout=60_000)
    ms = page.evaluate("performance.now()")
    page.wait_for_timeout(300)  # let late frames land
    first = (page.evaluate(WIRE_BYTES), page.evaluate(WIRE_IMAGE_BYTES), ws[0], http[0])
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function(ALL_LOADED, timeout=60_000)
    page.wait_for_timeout(300)
    everything = page.evaluate(WIRE_BYTES) + ws[0]
    page.remove_listener("response", on_response)
    page.remove_listener("websocket", on_ws)
    return ms, first[0], first[1], first[2], everything, first[3]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lashme-bench-gallery-"))
    env = dict(os.environ, LASHME_DATA_DIR=str(tmp / "data"), DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}")
    env.pop("REDIS_URL", None)
    os.environ.update(LASHME_DATA_DIR=env["LASHME_DATA_DIR"], DATABASE_URL=env["DATABASE_URL"])

    from playwright.sync_api import sync_playwright

    from lashme.accounts import auth
    from lashme.jobs import uploads
    from lashme.jobs.generation import run as run_job
    from lashme.ops.db import session_scope
    from lashme.ops.launcher import start_stack
    from lashme.ops.redis_server import free_port
    from lashme.ops.settings import get_settings
    from tests.browser import CHROMIUM, CHROMIUM_ARGS
    from tests.photos import astronaut_jpeg, chelsea_jpeg, coffee_jpeg, grace_hopper_jpeg

    stack = start_stack(port=free_port(), env=env, log_dir=tmp / "logs", web_dir=ROOT / ".web-bench")
    os.environ["REDIS_URL"] = stack.env.get("REDIS_URL", "")
    get_settings.cache_clear()
    with session_scope() as s:
        user = auth.sign_up(s, email="bench@example.com", password="Lashes2026", signup_bonus=3)
        token = auth.start_session(s, user_id=user.id)
        user_id = user.id
    photos = [chelsea_jpeg, coffee_jpeg, astronaut_jpeg, grace_hopper_jpeg] * 2
    for make in photos[:7]:
        job = uploads.submit_photo(make(), user_id=user_id, anon_token=None, enqueue=False)
        run_job(job.id)
    cold, warm = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cookie = [{"name": "lashme_session", "value": token, "url": stack.url}]
            for i in range(args.runs + 1):  # the first view warms the server and is not counted
                ctx = browser.new_context(viewport={"width": 390, "height": 844})
                ctx.add_cookies(cookie)
                result = _measure(ctx.new_page(), stack.url + "/gallery")
                ctx.close()
                if i:
                    cold.append(result)
            ctx = browser.new_context(viewport={"width": 390, "height": 844})
            ctx.add_cookies(cookie)
            page = ctx.new_page()
            _measure(page, stack.url + "/gallery")
            for _ in range(args.runs):
                warm.append(_measure(page, stack.url + "/gallery"))
            browser.close()
    finally:
        stack.stop()

    def show(name, rows):
        ms = sorted(r[0] for r in rows)
        total = statistics.median(r[1] + r[3] for r in rows)
        decoded = statistics.median(r[5] for r in rows)
        print(
            f"{name}: first grid paint p50 {statistics.median(ms):.0f} ms (min {ms[0]:.0f}, max {ms[-1]:.0f}); "
            f"bytes to first paint p50 {total / 1e6:.3f} MB = http {statistics.median(r[1] for r in rows) / 1e6:.3f}"
            f" MB (thumbnails {statistics.median(r[2] for r in rows) / 1e6:.3f} MB) + websocket "
            f"{statistics.median(r[3] for r in rows) / 1e3:.1f} kB; all 24 thumbnails loaded: "
            f"{statistics.median(r[4] for r in rows) / 1e6:.3f} MB; decoded HTTP bodies {decoded / 1e6:.3f} MB"
            f"  (n={len(rows)})"
        )

    print("gallery page of 24 thumbnails, 390x844, Chromium, loopback")
    show("cold cache", cold)
    show("warm cache", warm)


if __name__ == "__main__":
    main()
