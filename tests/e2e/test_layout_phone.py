"""Every page on a 390×844 phone, in Russian and English, signed out, signed in and as an admin.

Fails when any button, heading, page header or table cell is too narrow for its words
(``scrollWidth > clientWidth + 1``: the text runs out of the box or is clipped), when the page
scrolls sideways, or when a tap target (``a``, ``button``, ``input``, ``select``,
``[role=button]``) is smaller than 44×44 CSS px.  Links inside running text (a ``<p>``) are
exempt, as WCAG 2.5.8 exempts inline targets.

The page walk (:func:`world`, :func:`pages`, :func:`open_page`) is shared with ``test_a11y.py``.
"""

from __future__ import annotations

import pytest

from lashme.accounts import auth, roles
from lashme.credits import unlocks
from lashme.jobs import lifecycle, uploads
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
    if (!visible(el) || el.closest('p') || el.closest('[data-sonner-toaster]')) continue;
    if (el.tagName === 'INPUT' && ['file', 'range'].includes(el.type) && getComputedStyle(el).opacity === '0') continue;
    const r = el.getBoundingClientRect();
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
  const text = document.body.innerText.length;
  const same = window.__lmLastLen === text;
  window.__lmLastLen = text;
  return same && !document.querySelector('.rt-Spinner');
}"""


def open_page(page, app_url: str, path: str, lang: str) -> None:
    """Go to ``path`` and wait until the session is known and the page text stops changing."""
    page.goto(app_url + path)
    page.wait_for_load_state("networkidle")
    page.wait_for_function(_SETTLED_JS, arg=lang, timeout=45_000, polling=400)


def findings(page) -> list[str]:
    """Overflowing boxes, sideways scrolling and small tap targets on the current page."""
    return page.evaluate(_FINDINGS_JS, [FIT_SELECTOR, TAP_SELECTOR])


@pytest.fixture(scope="module")
def walk(app_url):
    return world("layout")


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_phone_with_big_enough_tap_targets(app_url, browser, walk, role, lang):
    ctx = context(browser, app_url, walk, role, lang)
    page = ctx.new_page()
    found: dict[str, list[str]] = {}
    for path in pages(walk, role):
        open_page(page, app_url, path, lang)
        problems = findings(page)
        if problems:
            found[path] = problems
    ctx.close()
    assert not found, "\n".join(f"{path}:\n  " + "\n  ".join(p) for path, p in found.items())


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
