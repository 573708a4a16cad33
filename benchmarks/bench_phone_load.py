"""Benchmark: cold load of the landing on a slow phone — Fast 3G and a 4× slower CPU — until its content is visible.

Starts its own stack (private data folder, SQLite, private Redis, 1 worker, Reflex prod build in
``.web-bench``).  Every run is a fresh browser context (empty cache, no cookies, so a true cold
load) at 390×844 with Chrome DevTools' "Fast 3G" profile applied through CDP
(``Network.emulateNetworkConditions``: 562.5 ms latency, 1.6 Mbit/s down, 750 kbit/s up, as
DevTools defines it, with its 0.9 throughput factor) and ``Emulation.setCPUThrottlingRate`` 4.
It prints, per language (Russian and English browsers), p50 and max of:

- ``FCP``: first contentful paint (``PerformanceObserver`` ``paint``);
- ``content``: navigation start → the landing's headline (``.lm-hero-title``) is laid out with
  its words in the page's language and the upload zone is there — what a visitor reads first;
- ``interactive``: → the session is known (the header's sign-in buttons are usable after hydration).

The target of issue 16 is ``content`` <= 2 s; the script asserts nothing.  It also prints the
machine's load average (the figures are wall-clock times under a throttled CPU: a busy machine
makes them longer) and saves the first screen of the last cold load of each language (once
interactive) to ``benchmarks/out/phone-load-<lang>.png``.

    .venv/bin/python benchmarks/bench_phone_load.py [--runs 5] [--path /]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))

#: Chrome DevTools' "Fast 3G" (front_end/core/sdk/NetworkManager.ts): bytes/s and ms
FAST_3G = {
    "offline": False,
    "latency": 150 * 3.75,
    "downloadThroughput": 1.6 * 1000 * 1000 / 8 * 0.9,
    "uploadThroughput": 750 * 1000 / 8 * 0.9,
}
CPU_SLOWDOWN = 4
TARGET_S = 2.0

#: records, relative to navigation start, when the landing's content and the header become usable
MARKS_JS = """
(() => {
  window.__lm = {fcp: null, content: null, interactive: null};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') window.__lm.fcp = e.startTime;
  }).observe({type: 'paint', buffered: true});
  const check = () => {
    const m = window.__lm;
    const h = document.querySelector('.lm-hero-title, main h1');
    if (m.content === null && h && h.getBoundingClientRect().height > 0 && h.innerText.trim().length > 3
        && document.querySelector('input[type=file]')) m.content = performance.now();
    const b = document.querySelector('#nav-signin');
    if (m.interactive === null && b && b.offsetHeight > 0 && window.__reflex) m.interactive = performance.now();
    if (m.content === null || m.interactive === null) requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="cold loads per language")
    parser.add_argument("--path", default="/", help="page to load (the landing by default)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lashme-bench-phone-"))
    env = dict(os.environ, LASHME_DATA_DIR=str(tmp / "data"), DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}")
    env.pop("REDIS_URL", None)
    os.environ.update(LASHME_DATA_DIR=env["LASHME_DATA_DIR"], DATABASE_URL=env["DATABASE_URL"])

    from playwright.sync_api import sync_playwright

    from lashme.ops.launcher import start_stack
    from lashme.ops.redis_server import free_port
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    stack = start_stack(port=free_port(), env=env, log_dir=tmp / "logs", web_dir=ROOT / ".web-bench")
    results: dict[str, dict[str, list[float]]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for lang, browser_locale in (("ru", "ru-RU"), ("en", "en-US")):
                marks: dict[str, list[float]] = {"fcp": [], "content": [], "interactive": []}
                for i in range(args.runs + 1):  # the first load warms the server up and is not counted
                    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale=browser_locale)
                    page = ctx.new_page()
                    cdp = ctx.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                    cdp.send("Network.emulateNetworkConditions", FAST_3G)
                    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
                    page.add_init_script(MARKS_JS)
                    page.goto(stack.url + args.path, wait_until="commit", timeout=120_000)
                    page.wait_for_function(
                        "window.__lm && window.__lm.content !== null && window.__lm.interactive !== null"
                        " && window.__lm.fcp !== null",
                        timeout=120_000,
                        polling=100,
                    )
                    got = page.evaluate("window.__lm")
                    assert page.evaluate("document.documentElement.lang") == lang
                    if i == args.runs:
                        OUT.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(OUT / f"phone-load-{lang}.png"))
                    if i:
                        for k in marks:
                            marks[k].append(got[k] / 1000)
                    ctx.close()
                results[lang] = marks
            browser.close()
    finally:
        stack.stop()
    print(
        f"cold load of {args.path} at 390x844, Fast 3G (562.5 ms RTT, 1.44 Mbit/s down), "
        f"CPU x{CPU_SLOWDOWN}, {args.runs} runs per language; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    for lang, marks in results.items():
        row = "  ".join(
            f"{k} p50 {statistics.median(v):.2f} s max {max(v):.2f} s" for k, v in marks.items()
        )
        verdict = "OK" if statistics.median(marks["content"]) <= TARGET_S else "over target"
        print(f"  {lang}: {row}   (target content <= {TARGET_S:.1f} s: {verdict})")
        print(f"      content per run: {', '.join(f'{v:.2f}' for v in marks['content'])} s")


if __name__ == "__main__":
    main()
