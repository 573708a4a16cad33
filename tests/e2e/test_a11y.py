"""axe-core (axe-playwright-python) on every page, in Russian and English, signed out, signed in
and as an admin: no critical and no serious violations (labels, names, landmarks, contrast ≥ 4.5:1…).

Also checks what axe cannot: keyboard focus is visible (an outline or a ring) on the header's
controls, and the favicon and app icons are served.
"""

from __future__ import annotations

import urllib.request

import pytest

from tests.e2e.test_layout_phone import LOCALES, ROLES, context, open_page, report, shared_world, walk_results

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def walk(app_url):
    return shared_world()


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("role", ROLES)
def test_no_critical_or_serious_axe_violations(app_url, browser, walk, role, lang):
    """axe on every page of the walk (``test_layout_phone.walk_results``), and on the role's last
    page in the dark theme."""
    found = walk_results(browser, app_url, walk, role, lang)["axe"]
    assert not found, report(found)


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
