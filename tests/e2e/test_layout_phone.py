"""Every page on a 390×844 phone, in Russian and English, signed out, signed in and as an admin.

Fails when any button, heading, page header or table cell is too narrow for its words
(``scrollWidth > clientWidth + 1``: the text runs out of the box or is clipped), when the page
scrolls sideways, or when a tap target (``a``, ``button``, ``input``, ``select``,
``[role=button]``) is smaller than 44×44 CSS px.  Links inside running text (a ``<p>``) are
exempt, as WCAG 2.5.8 exempts inline targets.

The page walk is shared with ``test_a11y.py``: each page is opened once per role and language
(:func:`walk_results`, one browser context each) and both this file's layout checks and axe-core run
on it; the two files assert on the same walk.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from lashme.accounts import auth, roles
from lashme.credits import unlocks
from lashme.jobs import fullres, lifecycle, uploads
from lashme.jobs.generation import run as run_job
from lashme.models import Job, Role
from lashme.ops.db import session_scope
from tests.photos import chelsea_jpeg, coffee_jpeg

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
LOCALES = {"ru": "ru-RU", "en": "en-US"}
ROLES = ("visitor", "user", "admin")

#: ``[tag/selector, …]`` whose content must fit their box
FIT_SELECTOR = (
    "button, a.rt-Button, [role=button], h1, h2, h3, h4, h5, h6, header, th, td, "
    ".rt-TableCell, .rt-TableColumnHeaderCell, .rt-Badge"
)
TAP_SELECTOR = "a[href], button, input:not([type=hidden]), select, [role=button]"

_FINDINGS_JS = """([fitSel, tapSel]) => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false;
    }
    return true;
  };
  const name = (el) => {
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).slice(0, 3).join('.') : '';
    const text = (el.innerText || el.getAttribute('aria-label') || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
  };
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
  }
  for (const el of document.querySelectorAll(fitSel)) {
    if (!visible(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      out.push(`overflows: ${name(el)} ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  for (const el of document.querySelectorAll(tapSel)) {
    // inline links in running text; toasts; controls hidden from everyone (Radix's native <select> twin)
    if (!visible(el) || el.closest('p') || el.closest('[data-sonner-toaster]') || el.closest('[aria-hidden="true"]')) continue;
    const r = el.getBoundingClientRect();
    // a visually hidden file input: its drop zone (a bigger box around it) is what one taps
    if (el.tagName === 'INPUT' && el.type === 'file' && (r.width <= 2 || getComputedStyle(el).opacity === '0')) continue;
    if (r.width < 43.5 || r.height < 43.5) {
      out.push(`small tap target: ${name(el)} ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return out;
}"""


def _account(email: str, *, jobs: int = 0, role: Role | None = None) -> tuple[int, str, list[str]]:
    with session_scope() as s:
        user = auth.sign_up(s, email=email, password="Lashes2026", signup_bonus=3)
        user_id = user.id
        if role is not None:
            roles.add_role(s, user_id, role, granted_by="e2e")
        token = auth.start_session(s, user_id=user_id)
    job_ids = []
    for photo in (chelsea_jpeg, coffee_jpeg)[:jobs]:
        job = uploads.submit_photo(photo(), user_id=user_id, anon_token=None, enqueue=False)
        run_job(job.id)
        job_ids.append(job.id)
    return user_id, token, job_ids


def world(prefix: str) -> dict:
    """Accounts and jobs for the page walk: a visitor's job, a master with two finished jobs (one
    variant unlocked, a note in Russian) and a super admin."""
    anon = f"{prefix}-visitor-browser-token-0123456789abcdef"
    visitor_job = uploads.submit_photo(chelsea_jpeg(), user_id=None, anon_token=anon, enqueue=False)
    run_job(visitor_job.id)
    user_id, token, job_ids = _account(f"{prefix}-master@example.com", jobs=2)
    with session_scope() as s:
        s.get(Job, job_ids[0]).note = "Анна, объём 2D"
        variant_id = lifecycle.variants_of(s, job_ids[0])[0].id
    with session_scope() as s:
        unlocks.unlock_variant(s, user_id=user_id, variant_id=variant_id, cost=1)
        fullres.request_render(s, variant_id, enqueue=False)
    assert fullres.render(variant_id) == "ready"  # what the worker does after an unlock
    admin_id, admin_token, _ = _account(f"{prefix}-admin@example.com", role=Role.SUPER_ADMIN)
    return {
        "anon": anon,
        "visitor_job": visitor_job.id,
        "user_id": user_id,
        "token": token,
        "jobs": job_ids,
        "variant": variant_id,
        "admin_token": admin_token,
        "admin_id": admin_id,
    }


def pages(w: dict, role: str) -> list[str]:
    """The paths ``role`` can open (a master's pages; an admin's pages; a visitor's pages)."""
    if role == "visitor":
        return [
            "/",
            "/upload",
            "/login",
            "/signup",
            "/forgot-password",
            "/reset-password?token=nope",
            "/verify-email?token=nope",
            "/terms",
            "/privacy",
            "/contacts",
            "/no-such-page",
            f"/job/{w['visitor_job']}",
        ]
    if role == "user":
        return [
            "/upload",
            "/gallery",
            "/dashboard",
            "/credits",
            "/account",
            f"/job/{w['jobs'][0]}",
            f"/variant/{w['variant']}",
        ]
    return [
        "/admin",
        "/admin/users",
        f"/admin/users/{w['user_id']}",
        "/admin/jobs",
        f"/admin/jobs/{w['jobs'][0]}",
        "/admin/presets",
        "/admin/pricing",
        "/admin/payments",
        "/admin/stats",
        "/admin/audit",
        "/admin/queue",
    ]


def context(browser, app_url: str, w: dict, role: str, lang: str, viewport=PHONE):
    """A browser context of ``role`` whose browser language is ``lang``."""
    ctx = browser.new_context(viewport=viewport, locale=LOCALES[lang])
    cookies = [{"name": "lashme_anon", "value": w["anon"], "url": app_url}]
    if role != "visitor":
        token = w["token"] if role == "user" else w["admin_token"]
        cookies.append({"name": "lashme_session", "value": token, "url": app_url})
    ctx.add_cookies(cookies)
    return ctx


_SETTLED_JS = """(lang) => {
  if (document.documentElement.lang !== lang) return false;
  const skel = [...document.querySelectorAll('.lm-skel')].some(e => e.getBoundingClientRect().height > 0);
  if (skel) return false;
  const head = document.querySelector('#nav-signin, #account-menu');
  if (!head || head.getBoundingClientRect().height === 0) return false;
  if (document.fonts.status !== 'loaded' || [...document.images].some(i => !i.complete)) return false;
  const text = document.body.innerText.length;
  const same = window.__lmLastLen === text;
  window.__lmLastLen = text;
  const spinning = [...document.querySelectorAll('.rt-Spinner, .lm-spin')].some(e => e.getBoundingClientRect().height > 0);
  return same && !spinning;
}"""


def open_page(page, app_url: str, path: str, lang: str) -> None:
    """Go to ``path`` and wait until the session is known, the fonts and images are in and the page
    text stops changing.

    Waits on those events, not on ``networkidle`` (which always adds 500 ms of silence per page,
    and does not see the app's websocket anyway).
    """
    page.goto(app_url + path)
    page.wait_for_function(_SETTLED_JS, arg=lang, timeout=45_000, polling=250)


def findings(page) -> list[str]:
    """Overflowing boxes, sideways scrolling and small tap targets on the current page."""
    return page.evaluate(_FINDINGS_JS, [FIT_SELECTOR, TAP_SELECTOR])


_AXE = Axe()
#: WCAG 2.0/2.1/2.2 A and AA rules plus axe's best practices (landmarks, one main, heading order…)
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
}


def axe_problems(page) -> list[str]:
    """axe-core's critical and serious violations on the current page, one line each."""
    out = []
    for v in _AXE.run(page, options=AXE_OPTIONS).response.get("violations", []):
        if v.get("impact") not in ("critical", "serious"):
            continue
        targets = "; ".join(
            f"{n.get('target')} {n.get('failureSummary', '').splitlines()[-1][:120] if n.get('failureSummary') else ''}"
            for n in v.get("nodes", [])[:4]
        )
        out.append(f"[{v['impact']}] {v['id']}: {v.get('help')} — {targets}")
    return out


_WORLD: dict[str, dict] = {}
_WALKS: dict[tuple[str, str], dict[str, dict[str, list[str]]]] = {}


def shared_world() -> dict:
    """:func:`world` made once per test session (both files walk the same accounts and jobs)."""
    if "w" not in _WORLD:
        _WORLD["w"] = world("walk")
    return _WORLD["w"]


def walk_results(browser, app_url: str, w: dict, role: str, lang: str) -> dict[str, dict[str, list[str]]]:
    """Open every page of ``role`` in ``lang`` once and check it: ``{"layout"|"axe": {page: problems}}``.

    One browser context per role and language; after the last page the same page again in the
    dark theme (chosen as a user does: the saved colour mode, then a reload), checked by axe.
    Memoised, so ``test_a11y.py`` asserts on the walk this file made (or the other way round).
    """
    key = (role, lang)
    if key in _WALKS:
        return _WALKS[key]
    found: dict[str, dict[str, list[str]]] = {"layout": {}, "axe": {}}
    ctx = context(browser, app_url, w, role, lang)
    page = ctx.new_page()
    try:
        for path in pages(w, role):
            open_page(page, app_url, path, lang)
            for name, check in (("layout", findings), ("axe", axe_problems)):
                problems = check(page)
                if problems:
                    found[name][path] = problems
        path = pages(w, role)[-1]
        page.evaluate("localStorage.setItem('theme', 'dark')")
        open_page(page, app_url, path, lang)
        assert page.evaluate("document.documentElement.classList.contains('dark')")
        problems = axe_problems(page)
        if problems:
            found["axe"]["(dark) " + path] = problems
    finally:
        ctx.close()
    _WALKS[key] = found
    return found


def report(found: dict[str, list[str]]) -> str:
    """``{page: problems}`` as an assertion message."""
    return "\n".join(f"{path}:\n  " + "\n  ".join(p) for path, p in found.items())


@pytest.fixture(scope="module")
def walk(app_url):
    return shared_world()


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_phone_with_big_enough_tap_targets(app_url, browser, walk, role, lang):
    found = walk_results(browser, app_url, walk, role, lang)["layout"]
    assert not found, report(found)


def test_first_paint_is_in_the_visitors_language_and_no_signed_in_shell_flashes(app_url, browser, walk):
    """The HTML as it arrives (before any script) already speaks English to an English browser,
    a visitor sees the sign-in buttons at once, and a signed-in user a skeleton, never the
    visitor's buttons or the admin link."""
    ctx = browser.new_context(viewport=PHONE, locale="en-US", java_script_enabled=False)
    page = ctx.new_page()
    page.goto(app_url + "/login")
    assert page.evaluate("document.documentElement.lang") == "en"
    body = page.inner_text("body")
    assert "Sign in" in body and "Войти" not in body, body[:400]
    assert page.locator("#nav-signin").is_visible()
    ctx.close()

    ctx = browser.new_context(viewport=PHONE, locale="ru-RU", java_script_enabled=False)
    ctx.add_cookies([{"name": "lashme_session", "value": walk["token"], "url": app_url}])
    page = ctx.new_page()
    page.goto(app_url + "/gallery")
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert not page.locator("#nav-signin").is_visible()
    assert page.locator("#nav-admin").count() == 0
    assert page.locator(".lm-skel").first.is_visible()
    ctx.close()

    # with scripts: the English page never shows a Russian word on the way, a user never the admin link
    ctx = browser.new_context(viewport=PHONE, locale="en-US")
    ctx.add_cookies([{"name": "lashme_session", "value": walk["token"], "url": app_url}])
    page = ctx.new_page()
    page.add_init_script(
        """new MutationObserver(() => {
             const t = document.body ? document.body.innerText : '';
             if (/[а-яё]{3,}/i.test(t.replace(/Русский|РУС|RU/g, ''))) window.__sawRussian = t.slice(0, 200);
             if (document.querySelector('#nav-admin')) window.__sawAdmin = true;
             if (document.querySelector('#nav-signin') && document.querySelector('#nav-signin').offsetHeight) window.__sawVisitor = true;
           }).observe(document, {subtree: true, childList: true, characterData: true});"""
    )
    open_page(page, app_url, "/dashboard", "en")
    assert page.evaluate("window.__sawRussian || null") is None
    assert page.evaluate("window.__sawAdmin || null") is None
    assert page.evaluate("window.__sawVisitor || null") is None
    ctx.close()
