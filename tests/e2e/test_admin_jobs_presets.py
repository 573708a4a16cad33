"""Admin jobs, job and presets pages in a real browser at phone width: filter, retry, refund, publish."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from lashme.accounts import auth, roles
from lashme.credits import ledger, pricing, unlocks
from lashme.jobs import generation, uploads
from lashme.jobs.lifecycle import variants_of
from lashme.models import PresetVersion, Role
from lashme.ops.db import session_scope
from tests.photos import coffee_jpeg

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _restore_presets_and_prices():
    """The app is shared by the e2e tests: studio version 1 of every preset on, generation free."""
    with session_scope() as s:
        s.execute(
            update(PresetVersion)
            .where(PresetVersion.provider == "studio")
            .values(active=PresetVersion.version == 1)
        )
        pricing.set_price(s, "generation_cost", 0, actor="e2e")


def test_admin_filters_retries_refunds_and_edits_presets_on_a_phone(app_url, browser):
    with session_scope() as s:
        boss = auth.sign_up(s, email="boss@example.com", password="Lashes2026", signup_bonus=3).id
        token = auth.start_session(s, user_id=boss)
        roles.add_role(s, boss, Role.ADMIN, granted_by="test")
        # the job's owner is a master, not the admin: nobody refunds their own charges
        uid = auth.sign_up(s, email="marta-jobs@example.com", password="Lashes2026", signup_bonus=3).id
        pricing.set_price(s, "generation_cost", 1, actor="e2e")
    try:
        job = uploads.submit_photo(coffee_jpeg(), user_id=uid, anon_token=None, enqueue=False)
        generation.run(job.id)
        with session_scope() as s:
            unlocks.unlock_variant(s, user_id=uid, variant_id=variants_of(s, job.id)[0].id, cost=1)
        failed = uploads.submit_photo(coffee_jpeg(), user_id=None, anon_token="admin-e2e", enqueue=False)
        generation.fail(failed.id, error_key="generation.timeout", detail="too slow")

        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        ctx.add_cookies([{"name": "lashme_session", "value": token, "url": app_url}])
        page = ctx.new_page()
        page.goto(app_url + "/admin/jobs")
        page.locator("#admin-jobs-table").wait_for(timeout=30_000)
        page.fill("#admin-jobs-owner", "marta-jobs@")
        page.locator("#admin-jobs-search").click()
        page.wait_for_function("document.querySelectorAll('.admin-job-link').length === 1", timeout=20_000)
        assert page.locator(".admin-job-link").text_content() == job.id[:8]
        page.locator("#admin-jobs-reset").click()
        page.locator("#admin-jobs-status").click()
        page.get_by_role("option", name="Failed").click()
        link = page.locator(".admin-job-link", has_text=failed.id[:8])
        link.wait_for(timeout=20_000)
        assert _no_sideways_scroll(page), "the jobs page scrolls sideways"
        link.click()
        page.wait_for_url(re.compile(r".*/admin/jobs/" + failed.id), timeout=20_000)
        page.locator("#admin-job-error").get_by_text("generation.timeout").wait_for(timeout=20_000)
        page.locator("#admin-job-retry").click()
        page.get_by_text("back in the queue").wait_for(timeout=20_000)
        page.wait_for_function("document.querySelectorAll('#admin-job-retry').length === 0", timeout=20_000)

        page.goto(app_url + "/admin/jobs/" + job.id)
        page.locator("#admin-job-refund-reason").wait_for(timeout=20_000)
        assert page.locator("#admin-job-refundable").text_content() == "2"
        page.fill("#admin-job-refund-reason", "Blurry")
        page.locator("#admin-job-refund").click()
        page.get_by_text("Credits refunded: 2").wait_for(timeout=20_000)
        page.wait_for_function(
            "document.querySelector('#admin-job-refundable')?.textContent === '0'", timeout=20_000
        )
        with session_scope() as s:
            assert ledger.get_balance(s, uid).total == 3
        assert _no_sideways_scroll(page), "the job page scrolls sideways"

        page.goto(app_url + "/admin/presets")
        page.locator("#admin-preset-studio-natural").wait_for(timeout=20_000)
        page.locator("#admin-presets-edit-studio-natural").click()
        page.locator("#admin-presets-form").wait_for(timeout=20_000)
        page.fill("#admin-presets-strength", "0.5")
        page.fill("#admin-presets-params", '{"saturation": 1.1}')
        page.locator("#admin-presets-publish").click()
        page.get_by_text("Version 2 is now active").wait_for(timeout=20_000)
        page.locator("#admin-preset-studio-natural .admin-presets-activate").first.click()
        page.get_by_text("Version activated").wait_for(timeout=20_000)
        page.locator("#admin-presets-deactivate-studio-warm_glow").click()
        page.get_by_text("switched off").first.wait_for(timeout=20_000)
        assert _no_sideways_scroll(page), "the presets page scrolls sideways"
        ctx.close()
    finally:
        _restore_presets_and_prices()
