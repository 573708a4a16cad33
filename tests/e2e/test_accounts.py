"""Accounts end to end in Chromium at 390×844: email verification, password reset, "Sign in with Google".

The app under test sends mail to a real SMTP server on loopback (``mailbox``: STARTTLS + AUTH) and
uses a real OpenID provider on loopback as Google (``oidc_provider``); see ``tests/e2e/conftest.py``.
Screenshots go to ``benchmarks/out/accounts-*.png``.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fakes.smtp_mailbox import link_in, text_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "out"


def _shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"accounts-{name}.png"), full_page=True)


def _balance(page, value: str) -> None:
    page.wait_for_function(f"document.querySelector('#balance')?.textContent === '{value}'", timeout=20_000)


def _mail_with(mailbox, to: str, path: str):
    """The first message to ``to`` carrying a ``path`` link, polling until it arrives."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for msg in mailbox.messages_to(to):
            if path + "?" in text_of(msg):
                return msg
        time.sleep(0.05)
    raise AssertionError(f"no {path} mail for {to}")


def _at(page, path: str, timeout: float = 30_000) -> None:
    """Wait until the page's *path* is ``path`` (a trailing slash aside; the query string is not looked at).

    A pattern like ``.*/dashboard$`` also matches ``/login?next=/dashboard`` and returns before the
    page has even left: the next step then races the navigation (closing a context while Chromium
    commits a navigation can hang the close for good).
    """
    page.wait_for_url(lambda url: urlsplit(url).path.rstrip("/") == path.rstrip("/"), timeout=timeout)


def _hydrated(page) -> None:
    """Wait until a fresh tab's page is live (its on_load has set the visitor cookie), so no click is lost."""
    page.wait_for_function("document.cookie.includes('lashme_anon=')", timeout=20_000)


def _sign_up(page, app_url: str, email: str, password: str = "Lashes2026") -> None:
    page.goto(app_url + "/signup?next=/dashboard")
    _hydrated(page)
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("#auth-submit").click()
    # the path itself, not the form's own ``?next=/dashboard``: a refused sign-up stays on /signup
    page.wait_for_url(re.compile(r"^[^?]*/dashboard/?$"), timeout=30_000)


def _sign_out(page) -> None:
    """Sign out from the account menu (at 390 px the header keeps the sign-out button in it)."""
    page.locator("#account-menu").click()
    page.locator("#menu-sign-out").click()
    # the route clears the cookie, then home loads afresh (a goto before that load would be aborted)
    page.wait_for_url(re.compile(r"^https?://[^/]+/?$"), timeout=30_000)
    page.locator("#nav-signin").wait_for(timeout=20_000)


def test_sign_up_then_confirm_the_email_to_get_the_bonus(app_url, browser, mailbox):
    ctx = browser.new_context(viewport=PHONE, locale="ru-RU", extra_http_headers={"Accept-Language": "ru"})
    page = ctx.new_page()
    _sign_up(page, app_url, "verify-me@example.com")
    _balance(page, "0")
    banner = page.locator("#verify-banner")
    banner.wait_for(timeout=20_000)
    assert "verify-me@example.com" in page.locator("#verify-banner-text").text_content()
    _shot(page, "banner-ru")

    first = mailbox.wait_for("verify-me@example.com")
    assert first["Subject"] == "Подтвердите почту для LashMe"
    page.locator("#verify-resend").click()  # "send again": a new link, the first one stops working
    second = mailbox.wait_for("verify-me@example.com", count=2)

    page.goto(link_in(first, "/verify-email"))
    page.locator("#verify-invalid").wait_for(timeout=20_000)
    page.goto(link_in(second, "/verify-email"))
    page.locator("#verify-ok").wait_for(timeout=20_000)
    assert "3" in page.locator("#verify-bonus").text_content()
    _shot(page, "verified-ru")
    page.locator("#verify-continue").click()
    _at(page, "/dashboard", timeout=20_000)
    _balance(page, "3")
    assert page.locator("#verify-banner").count() == 0

    page.goto(link_in(second, "/verify-email"))  # once only: no second bonus
    page.locator("#verify-invalid").wait_for(timeout=20_000)
    page.goto(app_url + "/dashboard")
    _balance(page, "3")
    ctx.close()


def test_forgot_password_link_sets_a_new_one_and_signs_out_everywhere(app_url, browser, mailbox):
    email = f"forgetful-{secrets.token_hex(3)}@example.com"  # a rerun after a timeout signs up afresh
    laptop = browser.new_context(viewport=PHONE)
    old = laptop.new_page()
    _sign_up(old, app_url, email, "OldPass2026")
    old.locator("#nav-credits").wait_for(timeout=20_000)

    ctx = browser.new_context(viewport=PHONE)
    page = ctx.new_page()
    page.goto(app_url + "/login")
    _hydrated(page)
    page.locator("#forgot-password").click()
    page.wait_for_url(re.compile(r".*/forgot-password$"), timeout=20_000)
    page.fill("#reset-email", "nobody-here@example.com")  # no account: the very same answer
    page.locator("#reset-request-submit").click()
    page.locator("#reset-sent").wait_for(timeout=20_000)
    unknown_answer = page.locator("#reset-sent").text_content()

    ctx2 = browser.new_context(viewport=PHONE)  # a fresh tab: no state left from the first answer
    page = ctx2.new_page()
    page.goto(app_url + "/forgot-password")
    _hydrated(page)
    page.fill("#reset-email", email)
    page.locator("#reset-request-submit").click()
    page.locator("#reset-sent").wait_for(timeout=20_000)
    assert page.locator("#reset-sent").text_content() == unknown_answer
    _shot(page, "reset-sent")

    link = link_in(_mail_with(mailbox, email, "/reset-password"), "/reset-password")
    assert mailbox.messages_to("nobody-here@example.com") == []

    page.goto(link)
    page.locator("#new-password").wait_for(timeout=20_000)
    _shot(page, "reset-form")
    page.fill("#new-password", "NewPass2026")
    page.locator("#reset-submit").click()
    _at(page, "/dashboard")
    page.locator("#nav-credits").wait_for(timeout=20_000)
    _balance(page, "3")  # the link reached her inbox: the address counts as confirmed

    old.close()  # the laptop's session ended with the reset: a fresh page load there shows the signed-out header
    again = laptop.new_page()
    again.goto(app_url + "/dashboard", timeout=30_000)
    _at(again, "/login")  # a visitor is sent to sign in
    again.locator("#nav-signin").wait_for(timeout=20_000)

    page.goto(link)  # single use
    page.locator("#reset-invalid").wait_for(timeout=20_000)

    other = browser.new_context(viewport=PHONE)
    p2 = other.new_page()
    p2.goto(app_url + "/login?next=/dashboard")
    _hydrated(p2)
    p2.fill("#email", email)
    p2.fill("#password", "OldPass2026")
    p2.locator("#auth-submit").click()
    p2.locator("#auth-error").wait_for(timeout=20_000)
    p2.fill("#password", "NewPass2026")
    p2.locator("#auth-submit").click()
    _at(p2, "/dashboard")  # the page was at /login?next=/dashboard: the path, not the whole URL
    p2.locator("#nav-credits").wait_for(timeout=20_000)  # loaded: no navigation left to race the close
    for c in (laptop, ctx, ctx2, other):
        c.close()


def test_sign_in_with_google_creates_a_verified_account_and_links_it_next_time(
    app_url, browser, oidc_provider
):
    oidc_provider.set_user("google-sub-olya", email="olya.google@example.com", email_verified=True)
    ctx = browser.new_context(viewport=PHONE)
    page = ctx.new_page()
    page.goto(app_url + "/login?next=/gallery")
    button = page.locator("#google-signin")
    button.wait_for(timeout=20_000)
    box = button.bounding_box()
    assert box["height"] >= 40 and box["width"] <= 390
    _shot(page, "login-google")
    button.click()
    page.wait_for_url(re.compile(re.escape(oidc_provider.issuer) + r"/oauth2/authorize\?.*"), timeout=20_000)
    assert "code_challenge_method=S256" in page.url and "nonce=" in page.url
    page.fill("input[name=sub]", "google-sub-olya")
    page.get_by_role("button", name="Authorize").click()
    _at(page, "/gallery")  # a full page load: Reflex adds the slash
    _balance(page, "3")
    assert page.locator("#verify-banner").count() == 0

    _sign_out(page)
    page.goto(app_url + "/login?next=/dashboard")
    page.locator("#google-signin").click()
    page.wait_for_url(re.compile(re.escape(oidc_provider.issuer) + r"/.*"), timeout=20_000)
    page.fill("input[name=sub]", "google-sub-olya")
    page.get_by_role("button", name="Authorize").click()
    _at(page, "/dashboard")
    _balance(page, "3")  # the same account, no second bonus

    oidc_provider.set_user("google-sub-mallory", email="olya.google@example.com", email_verified=False)
    _sign_out(page)
    page.goto(app_url + "/login")
    page.locator("#google-signin").click()
    page.wait_for_url(re.compile(re.escape(oidc_provider.issuer) + r"/.*"), timeout=20_000)
    page.fill("input[name=sub]", "google-sub-mallory")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r".*/login/?\?error=accounts\.google_email_unverified$"), timeout=30_000)
    page.locator("#auth-error").wait_for(timeout=20_000)
    assert page.locator("#balance").count() == 0
    ctx.close()
