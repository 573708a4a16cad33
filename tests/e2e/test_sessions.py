"""HttpOnly sessions in Chromium: page scripts never see the sign-in token, and each sign-in gets a new one.

Signs up and in through the pages (the forms post to ``/auth/sign-up`` and ``/auth/sign-in``),
then checks the browser's own cookie jar: ``lashme_session`` is HttpOnly and SameSite=Lax,
absent from ``document.cookie``, from the page's HTML and from every websocket frame the page
sent; sign-out clears it; a second tab's sign-in rotates the id (the first id stops working).
"""

from __future__ import annotations

import re

import pytest

from lashme.app import session as app_session

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}  # the header shows its sign-out button
PASSWORD = "Cookies2026"


def _at(path: str) -> re.Pattern:
    """The URL of ``path`` itself (not ``/login?next=path``); a full page load may add the slash."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}/?$")


def _hydrated(page) -> None:
    """The page is live (its on_load set the visitor cookie), so a click is not lost."""
    page.wait_for_function("document.cookie.includes('lashme_anon=')", timeout=20_000)


def _session_cookie(ctx) -> dict | None:
    found = [c for c in ctx.cookies() if c["name"] == app_session.SESSION_COOKIE]
    return found[0] if found else None


def _user_of(token: str) -> int | None:
    return app_session.caller_for(auth_token=token).user_id


def _script_sees_no_session(page, token: str) -> None:
    visible = page.evaluate("document.cookie")
    assert app_session.SESSION_COOKIE not in visible and token not in visible
    assert token not in page.content()


def _submit(page, app_url: str, path: str, email: str, password: str = PASSWORD) -> None:
    page.goto(app_url + path)
    _hydrated(page)
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("#auth-submit").click()


def test_the_session_cookie_is_httponly_lax_and_rotates_on_every_sign_in(app_url, browser):
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    sent: list[str] = []

    def watch(ws) -> None:
        ws.on(
            "framesent", lambda payload: sent.append(payload if isinstance(payload, str) else repr(payload))
        )

    page.on("websocket", watch)

    # sign up through the page: the route sets the cookie, the next page loads with it
    _submit(page, app_url, "/signup?next=/gallery", "cookie-jar@example.com")
    page.wait_for_url(_at("/gallery"), timeout=30_000)
    page.locator("#balance").wait_for(timeout=20_000)  # the new websocket presents the session
    first = _session_cookie(ctx)
    assert first is not None and first["httpOnly"] is True and first["sameSite"] == "Lax"
    assert first["secure"] is False and first["path"] == "/"  # plain http on loopback
    assert len(first["value"]) >= 43 and _user_of(first["value"]) is not None
    _script_sees_no_session(page, first["value"])

    # a wrong password: the message shows in place, the typed email stays, no cookie changes
    page.locator("#sign-out").click()
    page.wait_for_url(_at("/"), timeout=30_000)  # the route answered, then home loaded afresh
    page.locator("#nav-signin").wait_for(timeout=20_000)
    for _ in range(200):  # poll: the sign-out route's answer clears the jar
        if _session_cookie(ctx) is None:
            break
        page.wait_for_timeout(50)
    assert _session_cookie(ctx) is None and _user_of(first["value"]) is None
    _submit(page, app_url, "/login?next=/dashboard", "cookie-jar@example.com", "Wrong2026x")
    page.locator("#auth-error").wait_for(timeout=20_000)
    assert "Wrong email or password" in page.locator("#auth-error").text_content()
    assert page.input_value("#email") == "cookie-jar@example.com"
    assert _session_cookie(ctx) is None

    # sign in twice (two tabs of one browser): a new session id each time, the older one ends
    page.fill("#password", PASSWORD)
    page.locator("#auth-submit").click()
    page.wait_for_url(_at("/dashboard"), timeout=30_000)
    page.locator("#balance").wait_for(timeout=20_000)
    second = _session_cookie(ctx)
    assert second["httpOnly"] and second["value"] != first["value"]
    _script_sees_no_session(page, second["value"])

    tab = ctx.new_page()
    tab.on("websocket", watch)
    _submit(tab, app_url, "/login?next=/gallery", "cookie-jar@example.com")
    tab.wait_for_url(_at("/gallery"), timeout=30_000)
    tab.locator("#balance").wait_for(timeout=20_000)
    third = _session_cookie(ctx)
    assert third["value"] not in (first["value"], second["value"])
    assert _user_of(second["value"]) is None and _user_of(third["value"]) is not None
    _script_sees_no_session(tab, third["value"])

    # the first tab's websocket still presents the ended id; a reload's new handshake carries the new one
    page.reload()
    page.locator("#balance").wait_for(timeout=20_000)
    _script_sees_no_session(page, third["value"])

    # nothing secret ever crossed the websocket: no token, no password
    frames = "\n".join(sent)
    assert sent and PASSWORD not in frames and "Wrong2026x" not in frames
    for cookie in (first, second, third):
        assert cookie["value"] not in frames
    ctx.close()
