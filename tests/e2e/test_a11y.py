"""axe-core (axe-playwright-python) on every page, in Russian and English, signed out, signed in
and as an admin: no critical and no serious violations (labels, names, landmarks, contrast ≥ 4.5:1…).

Also checks what axe cannot: keyboard focus is visible (an outline or a ring) on the header's
controls, and the favicon and app icons are served.
"""

from __future__ import annotations

import urllib.request

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.test_layout_phone import LOCALES, ROLES, context, open_page, pages, world

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

_AXE = Axe()
#: WCAG 2.0/2.1/2.2 A and AA rules plus axe's best practices (landmarks, one main, heading order…)
_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
}


@pytest.fixture(scope="module")
def walk(app_url):
    return world("a11y")


def _serious(results) -> list[str]:
    out = []
    for v in results.response.get("violations", []):
        if v.get("impact") not in ("critical", "serious"):
            continue
        targets = "; ".join(
            f"{n.get('target')} {n.get('failureSummary', '').splitlines()[-1][:120] if n.get('failureSummary') else ''}"
            for n in v.get("nodes", [])[:4]
        )
        out.append(f"[{v['impact']}] {v['id']}: {v.get('help')} — {targets}")
    return out


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("role", ROLES)
def test_no_critical_or_serious_axe_violations(app_url, browser, walk, role, lang):
    ctx = context(browser, app_url, walk, role, lang)
    page = ctx.new_page()
    found: dict[str, list[str]] = {}
    for path in pages(walk, role):
        open_page(page, app_url, path, lang)
        problems = _serious(_AXE.run(page, options=_OPTIONS))
        if problems:
            found[path] = problems
    # the dark theme too, on the page with the most colour
    page.evaluate("document.documentElement.classList.remove('light'); document.documentElement.classList.add('dark')")
    problems = _serious(_AXE.run(page, options=_OPTIONS))
    if problems:
        found["(dark) " + page.url] = problems
    ctx.close()
    assert not found, "\n".join(f"{path}:\n  " + "\n  ".join(p) for path, p in found.items())


def test_keyboard_focus_is_visible_and_icons_are_served(app_url, browser, walk):
    ctx = context(browser, app_url, walk, "visitor", "ru")
    page = ctx.new_page()
    open_page(page, app_url, "/", "ru")
    seen = []
    for _ in range(6):
        page.keyboard.press("Tab")
        style = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                 return [e.tagName, e.id, s.outlineStyle, parseFloat(s.outlineWidth), s.boxShadow]; }"""
        )
        seen.append(style)
        tag, _, outline, width, shadow = style
        assert tag != "BODY", seen
        assert (outline != "none" and width >= 2) or (shadow and shadow != "none"), seen
    ctx.close()
    for path in ("/favicon.ico", "/apple-touch-icon.png", "/icon-192.png", "/manifest.webmanifest"):
        with urllib.request.urlopen(app_url + path, timeout=10) as resp:
            assert resp.status == 200, path
