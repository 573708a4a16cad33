"""Buying a credit pack in the browser: our page → the Stripe stand-in's checkout → back, balance up."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from tests.fakes.smtp_mailbox import link_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _sign_up(page, app_url: str, email: str, next_path: str) -> None:
    """Sign up as ``email`` from ``/signup?next=<next_path>`` and wait until ``next_path`` has loaded."""
    page.goto(f"{app_url}/signup?next={next_path}")
    page.fill("#email", email)
    page.fill("#password", "Lashes2026")
    page.locator("#auth-submit").click()
    # a full page load (the slash); the path itself, not the form's ``?next=…``
    page.wait_for_url(re.compile(rf"^[^?]*{re.escape(next_path)}/?$"), timeout=30_000)


def test_signed_in_user_buys_a_pack_and_sees_the_balance_rise(app_url, browser, stripe_standin, mailbox):
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    _sign_up(page, app_url, "buyer@example.com", "/credits")
    page.goto(link_in(mailbox.wait_for("buyer@example.com"), "/verify-email"))  # the bonus comes with it
    page.locator("#verify-ok").wait_for(timeout=20_000)
    page.goto(app_url + "/credits")
    page.wait_for_function("document.querySelector('#balance')?.textContent === '3'", timeout=20_000)
    assert page.locator("#payments-not-configured").count() == 0
    packs = page.locator(".buy-pack")
    packs.first.wait_for(timeout=20_000)
    assert packs.count() == 3
    assert "Most popular" in page.content()
    no_scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_scroll, "the credits page scrolls sideways at 390 px"

    packs.first.click()  # 10 credits for $5
    page.wait_for_url(re.compile(re.escape(stripe_standin.base_url) + r"/pay/cs_test_\w+"), timeout=30_000)
    assert page.locator("#amount").text_content() == "5.00 USD"
    page.locator("#pay").click()
    page.wait_for_url(re.compile(r".*/credits/success/?\?session_id=cs_test_\w+"), timeout=30_000)
    result = page.locator("#checkout-result")
    result.wait_for(timeout=30_000)
    assert "Payment received" in result.text_content()
    page.wait_for_function("document.querySelector('#balance')?.textContent === '13'", timeout=20_000)
    assert [code for _, code in stripe_standin.webhook_responses] == [200]

    page.goto(app_url + "/credits")
    page.locator("#orders").get_by_text("Paid").wait_for(timeout=20_000)
    assert page.locator("#ledger").get_by_text("Credit pack bought").count() == 1
    assert page.locator("#credits-available").text_content() == "13"
    ctx.close()


def test_the_dashboard_learns_the_time_zone_without_the_home_page(app_url, browser, mailbox):
    """A member who never opened "/": the dashboard, where a retry may meet the daily limit, learns
    her browser's time zone (the refusal says the reset on her clock); its ledger has its pager."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="Asia/Yekaterinburg")
    page = ctx.new_page()
    _sign_up(page, app_url, "zone@example.com", "/dashboard")
    page.wait_for_function("document.cookie.includes('lashme_tz=')", timeout=20_000)
    zone = next(c["value"] for c in ctx.cookies() if c["name"] == "lashme_tz")
    assert unquote(zone).strip('"') == "Asia/Yekaterinburg"
    page.locator("#dash-ledger").wait_for(timeout=20_000)
    assert page.locator("#ledger-pager button").count() == 2
    ctx.close()
