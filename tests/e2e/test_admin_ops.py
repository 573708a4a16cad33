"""Admin home, pricing, payments, stats and queue pages in the browser, on a 390 px wide phone."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SHOTS = os.environ.get("LASHME_SCREENSHOTS")


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_admin_uses_the_ops_pages_on_a_phone(app_url, browser):
    from lashme.accounts import auth, roles
    from lashme.credits import pricing
    from lashme.models import Role
    from lashme.ops.db import session_scope

    with session_scope() as s:
        uid = auth.sign_up(s, email="ops-admin@example.com", password="Lashes2026", signup_bonus=3).id
        roles.add_role(s, uid, Role.ADMIN, granted_by="e2e")
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.goto(app_url + "/login?next=/admin")
    page.fill("#email", "ops-admin@example.com")
    page.fill("#password", "Lashes2026")
    page.locator("#auth-submit").click()
    page.wait_for_url(re.compile(r".*/admin/?$"), timeout=30_000)
    page.wait_for_function(
        "/^\\d+$/.test(document.querySelector('#admin-home-users')?.textContent.replace(/\\D+/, '') || '')",
        timeout=30_000,
    )
    assert page.locator("#admin-home-link-pricing").count() == 1
    assert _no_sideways_scroll(page), "the admin home scrolls sideways at 390 px"
    _shot(page, "home")

    page.goto(app_url + "/admin/pricing")
    field = page.locator("#admin-price-unlock_cost")
    field.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('#admin-price-unlock_cost').value !== ''", timeout=20_000)
    field.fill("2")
    page.locator("#admin-price-save-unlock_cost").click()
    page.get_by_text("Saved: Unlock cost = 2.").wait_for(timeout=20_000)
    with session_scope() as s:
        assert pricing.get_prices(s).unlock_cost == 2
    page.locator("#admin-pack-pack_10-edit").click()
    page.locator("#admin-pack-edit-credits").fill("12")
    page.locator("#admin-pack-save").click()
    page.get_by_text("Pack pack_10 saved.").wait_for(timeout=20_000)
    with session_scope() as s:
        assert {p.code: p.credits for p in pricing.active_packs(s)}["pack_10"] == 12
    _shot(page, "pricing")
    with session_scope() as s:  # leave the shared app as the other browser tests expect it
        pricing.set_price(s, "unlock_cost", 1, actor="e2e")
        pack = next(p for p in pricing.active_packs(s) if p.code == "pack_10")
        pack.credits = 10
        s.add(pack)

    page.goto(app_url + "/admin/payments")
    page.locator("#admin-orders-table").wait_for(timeout=30_000)
    page.locator("#admin-webhooks-table").wait_for(timeout=20_000)
    _shot(page, "payments")

    page.goto(app_url + "/admin/stats")
    table = page.locator("#admin-stats-table")
    table.wait_for(timeout=30_000)
    page.wait_for_function(
        "document.querySelectorAll('#admin-stats-table tbody tr').length === 31", timeout=20_000
    )
    page.locator("#admin-stats-range").get_by_role("radio", name="7 days").click()
    page.wait_for_function(
        "document.querySelectorAll('#admin-stats-table tbody tr').length === 8", timeout=20_000
    )
    assert page.locator("#admin-stats-chart-jobs svg").count() > 0
    assert _no_sideways_scroll(page), "the stats page scrolls sideways at 390 px"
    _shot(page, "stats")

    page.goto(app_url + "/admin/queue")
    page.locator("#admin-queue-queued").wait_for(timeout=30_000)
    page.locator("#admin-queue-workers").wait_for(timeout=30_000)  # the stack runs one worker
    page.locator("#admin-queue-refresh").click()
    assert page.locator("#admin-queue-unavailable").count() == 0
    _shot(page, "queue")
    ctx.close()
