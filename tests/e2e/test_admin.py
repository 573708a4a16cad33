"""The admin pages in a real browser: find a user, add credits with a reason, see the audit entry.

The admin is made in the database (``roles.add_role``), as ``lashme create-admin`` would;
the master whose balance changes watches it in her own browser context.
"""

from __future__ import annotations

import re

import pytest

from lashme.accounts import auth, roles
from lashme.models import Role
from lashme.ops.db import session_scope

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


def _account(email: str, *, role: Role | None = None) -> tuple[int, str]:
    with session_scope() as s:
        user = auth.sign_up(s, email=email, password="Lashes2026", signup_bonus=3)
        if role is not None:
            roles.add_role(s, user.id, role, granted_by="e2e")
        return user.id, auth.start_session(s, user_id=user.id)


def _context(browser, app_url, token, viewport=PHONE):
    ctx = browser.new_context(viewport=viewport, locale="en-US")
    ctx.add_cookies([{"name": "lashme_session", "value": token, "url": app_url}])
    return ctx


def _text(page, selector: str, expected: str):
    page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent === want",
        arg=[selector, expected],
        timeout=30_000,
    )


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_admin_finds_a_user_adds_credits_and_sees_the_audit_entry(app_url, browser):
    master_id, master_token = _account("Marta.Lashes-E2E@example.com")
    _, admin_token = _account("boss-e2e@staff.example.com", role=Role.ADMIN)

    # the master sees her 3 welcome credits and no Admin link
    mctx = _context(browser, app_url, master_token)
    mpage = mctx.new_page()
    mpage.goto(app_url + "/credits")
    _text(mpage, "#credits-available", "3")
    assert mpage.locator("#nav-admin").count() == 0

    actx = _context(browser, app_url, admin_token)
    page = actx.new_page()
    page.goto(app_url + "/admin/users")
    page.locator("#admin-users-table").wait_for(timeout=30_000)
    page.locator("#nav-admin").first.wait_for(timeout=20_000)
    page.locator("#admin-user-search").fill("LASHES-e2e")
    page.locator("#admin-user-search").press("Enter")
    link = page.locator(f"#admin-user-link-{master_id}")
    link.wait_for(timeout=20_000)
    _text(page, "#admin-users-total", "1")
    assert page.locator(".admin-user-link").count() == 1
    assert _no_sideways_scroll(page), "/admin/users scrolls sideways at 390 px"
    link.click()
    page.wait_for_url(re.compile(rf".*/admin/users/{master_id}$"), timeout=30_000)
    _text(page, "#admin-user-email", "marta.lashes-e2e@example.com")
    _text(page, "#admin-user-available", "3")
    assert page.locator("#admin-user-held").text_content() == "0"
    assert page.locator("#admin-role-admin").count() == 0  # role buttons are for super admins only
    assert _no_sideways_scroll(page), "/admin/users/{id} scrolls sideways at 390 px"

    page.locator("#admin-adjust-amount").fill("5")
    page.locator("#admin-adjust-reason").fill("E2E goodwill credit")
    page.locator("#admin-adjust-submit").dblclick()  # a double click adds the credits once
    _text(page, "#admin-user-available", "8")
    page.locator("#admin-user-ledger").get_by_text("E2E goodwill credit").wait_for(timeout=20_000)
    page.wait_for_function("document.querySelector('#admin-adjust-amount')?.value === ''", timeout=20_000)
    # A barrier instead of a fixed wait: the page sends its events one at a time, in order, so once
    # the edits typed after the double click come back from the server (the submit button turns on
    # only when the server holds both fields), the second click's submission has been handled too.
    page.locator("#admin-adjust-amount").fill("1")
    page.locator("#admin-adjust-reason").fill("barrier")
    page.locator("#admin-adjust-submit:not([disabled])").wait_for(timeout=20_000)
    assert page.locator("#admin-user-available").text_content() == "8"
    assert page.locator("#admin-user-ledger").get_by_text("E2E goodwill credit").count() == 1

    page.goto(app_url + "/admin/audit")
    table = page.locator("#admin-audit-table")
    table.get_by_text("E2E goodwill credit").wait_for(timeout=30_000)
    row = page.locator(".admin-audit-row", has_text="E2E goodwill credit")
    assert row.count() == 1
    text = row.text_content()
    assert "adjust_credits" in text and "boss-e2e@staff.example.com" in text and f"user {master_id}" in text
    assert '{"available":3,"held":0} → {"available":8,"held":0}' in text
    assert _no_sideways_scroll(page), "/admin/audit scrolls sideways at 390 px"

    # the master reloads and sees 8
    mpage.reload()
    _text(mpage, "#credits-available", "8")
    _text(mpage, "#balance", "8")
    mpage.locator("#ledger").get_by_text("E2E goodwill credit").wait_for(timeout=20_000)

    # and the admin pages turn her away without showing anything
    for path in ("/admin", "/admin/users", f"/admin/users/{master_id}", "/admin/audit"):
        mpage.goto(app_url + path)
        mpage.wait_for_url(re.compile(re.escape(app_url) + r"/(upload/?)?$"), timeout=30_000)
        html = mpage.content()
        assert "boss-e2e" not in html and "E2E goodwill" not in html and "admin-users-table" not in html, path
        assert mpage.locator("#nav-admin").count() == 0
    actx.close()
    mctx.close()
