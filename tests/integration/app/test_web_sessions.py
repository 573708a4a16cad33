"""HttpOnly sign-in sessions: the HTTP routes that set and clear the cookie, and the websocket side reading it.

The routes (``lashme.ui.web_auth``) are driven with Starlette's TestClient behind the same
``protect`` middleware the app uses; the Reflex states get the cookie the way a browser's
websocket handshake brings it (``tests.integration.app.test_handlers._state``: the ``Cookie`` header in
``router.headers``).
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from reflex.utils import format as rx_format
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme import i18n
from lashme.accounts import auth
from lashme.app import session as app_session
from lashme.app.admin import accounts as admin_accounts
from lashme.models import User
from lashme.ops.db import session_scope
from lashme.ops.http.guard import protect
from lashme.ui import web_auth
from lashme.ui.pages.auth import AuthState
from lashme.ui.state import SessionState
from tests.integration.app.test_handlers import _route, _state

ORIGIN = "http://testserver"
JSON = {"Accept": "application/json", "Origin": ORIGIN}


@pytest.fixture
def browser(clean_db):
    with TestClient(protect(Starlette(routes=web_auth.ROUTES)), follow_redirects=False) as c:
        yield c


def _session_cookie(response) -> SimpleCookie:
    [header] = [v for k, v in response.headers.multi_items() if k == "set-cookie" and "lashme_session=" in v]
    jar = SimpleCookie()
    jar.load(header)
    return jar


def _user_of(token: str | None):
    return app_session.caller_for(auth_token=token).user_id


def _sign_up(browser, email="nina@example.com", password="Lashes2026", **extra):
    return browser.post("/auth/sign-up", data={"email": email, "password": password, **extra}, headers=JSON)


def test_sign_up_sets_an_httponly_lax_cookie_and_answers_only_the_next_path(browser):
    weak = _sign_up(browser, password="weak")
    assert weak.status_code == 400 and weak.json() == {"error": "auth.password_weak", "params": {}}
    assert "set-cookie" not in weak.headers

    done = _sign_up(browser, next="/gallery")
    assert done.status_code == 200 and done.json() == {"next": "/gallery"}
    assert done.headers["cache-control"] == "no-store"
    morsel = _session_cookie(done)["lashme_session"]
    assert morsel["httponly"] is True and morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here; behind https it is Secure (below)
    assert int(morsel["max-age"]) == app_session.session_days() * 86400
    with session_scope() as s:
        nina = s.execute(select(User).where(User.email == "nina@example.com")).scalar_one()
    assert _user_of(morsel.value) == nina.id
    assert morsel.value not in done.text  # the token is in the cookie only


def test_every_sign_in_rotates_the_session_id_and_ends_the_old_one(browser):
    first = _session_cookie(_sign_up(browser))["lashme_session"].value
    browser.cookies.set("lashme_session", first)
    wrong = browser.post(
        "/auth/sign-in", data={"email": "nina@example.com", "password": "Nope2026x"}, headers=JSON
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "auth.bad_credentials"
    assert _user_of(first) is not None  # a refused attempt changes nothing

    again = browser.post(
        "/auth/sign-in",
        data={"email": "NINA@example.com ", "password": "Lashes2026", "next": "//evil.example/x"},
        headers=JSON,
    )
    assert again.status_code == 200 and again.json() == {"next": "/"}  # only same-site paths
    second = _session_cookie(again)["lashme_session"].value
    assert second != first and _user_of(first) is None and _user_of(second) is not None


def test_sign_out_ends_the_session_and_clears_the_cookie(browser):
    token = _session_cookie(_sign_up(browser))["lashme_session"].value
    browser.cookies.set("lashme_session", token)
    out = browser.post("/auth/sign-out", headers=JSON)
    assert out.status_code == 200 and out.json() == {"next": "/"}
    morsel = _session_cookie(out)["lashme_session"]
    assert morsel.value == "" and int(morsel["max-age"]) == 0 and morsel["httponly"] is True
    assert _user_of(token) is None


def test_posts_from_another_site_or_without_an_origin_are_refused(browser):
    body = {"email": "nina@example.com", "password": "Lashes2026"}
    evil = browser.post("/auth/sign-up", data=body, headers={**JSON, "Origin": "https://evil.example"})
    bare = browser.post("/auth/sign-up", data=body, headers={"Accept": "application/json"})
    assert evil.status_code == 403 and bare.status_code == 403
    assert bare.json()["error"] == "security.cross_origin"
    token = _session_cookie(_sign_up(browser))["lashme_session"].value
    browser.cookies.set("lashme_session", token)
    assert browser.post("/auth/sign-out", headers={"Origin": "https://evil.example"}).status_code == 403
    assert _user_of(token) is not None  # a forged sign-out did not end it


def test_a_form_posted_without_script_gets_redirects_and_https_makes_the_cookie_secure(browser):
    refused = browser.post(
        "/auth/sign-in",
        data={"email": "nobody@example.com", "password": "Whatever1", "next": "/job/abc"},
        headers={"Origin": ORIGIN},
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login?error=auth.bad_credentials&next=%2Fjob%2Fabc"
    done = browser.post(
        "/auth/sign-up",
        data={"email": "nina@example.com", "password": "Lashes2026", "next": "/dashboard"},
        headers={"Origin": "https://testserver", "X-Forwarded-Proto": "https"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    assert _session_cookie(done)["lashme_session"]["secure"] is True


def test_sign_in_is_throttled_with_the_clients_ip_and_says_when_to_come_back(browser):
    _sign_up(browser)
    codes = []
    for _ in range(12):
        r = browser.post(
            "/auth/sign-in", data={"email": "nina@example.com", "password": "Wrong2026x"}, headers=JSON
        )
        codes.append(r.status_code)
    assert codes[0] == 400 and codes[-1] == 429
    assert r.json()["error"].startswith("security.") and isinstance(r.json()["params"]["minutes"], int)
    assert int(r.headers["retry-after"]) >= 60


def test_the_websocket_side_reads_the_session_from_the_handshake_cookie_only(world):
    st = _state(AuthState, token=world["alice_token"], anon="tab")
    AuthState.load_session.fn(st)
    assert st.user_email == "alice@example.com"
    assert "auth_token" not in SessionState.base_vars
    # what the page receives: the state serialized for the frontend carries no token, no Cookie header
    sent = rx_format.json_dumps(st.parent_state.parent_state.dict())
    assert world["alice_token"] not in sent and "lashme_session" not in sent
    # a new event (another page) keeps the connection's handshake: still Alice
    _route(st, "/gallery")
    assert st._caller().user_id == world["alice"]
    # a forged or absent cookie is a visitor
    assert _state(AuthState, token=world["alice_token"][:-1] + "x")._caller().user_id is None
    assert _state(AuthState)._caller().user_id is None


def test_a_tab_whose_session_ended_elsewhere_reloads_once_to_pick_up_the_browsers_cookie(world):
    st = _state(SessionState, token=world["alice_token"])
    assert SessionState.load_session.fn(st) is None and st.user_email == "alice@example.com"
    with session_scope() as s:
        auth.end_session(s, world["alice_token"])  # e.g. signed in again in another tab (rotation)
    assert "reload" in repr(SessionState.load_session.fn(st)) and st.user_email == ""
    assert SessionState.load_session.fn(st) is None  # after the reload: no loop


def test_sign_out_from_the_header_ends_the_session_and_posts_to_the_cookie_route(world):
    st = _state(SessionState, token=world["alice_token"])
    SessionState.load_session.fn(st)
    out = repr(SessionState.sign_out.fn(st))
    assert "/auth/sign-out" in out and st.user_email == ""
    assert _user_of(world["alice_token"]) is None


def test_the_auth_form_state_shows_only_known_messages_in_the_users_language(clean_db):
    st = _state(AuthState, locale="ru")
    assert not {"sign_in", "sign_up"} & set(AuthState.event_handlers)  # no handler takes a password
    AuthState.start.fn(st)
    assert st.busy and st.error == ""
    AuthState.posted.fn(st, {"error": "security.signin_locked", "params": {"minutes": 7, "x": "<b>"}})
    assert st.error == i18n.translate("security.signin_locked", "ru", minutes=7) and not st.busy
    for junk in ({"error": "<img src=x onerror=alert(1)>"}, "junk", None, {"error": 5, "params": [1]}):
        AuthState.posted.fn(st, junk)
        assert st.error == i18n.translate("sessions.failed", "ru")
    st.busy = True
    AuthState.posted.fn(st, {"ok": True})  # the next page is loading: keep the spinner
    assert st.busy


def test_a_role_change_ends_the_users_sessions(staff):
    def change(granted: bool):
        with session_scope() as s:
            admin_accounts.set_role(s, staff["super"], staff["alice"], "admin", granted)

    change(True)
    assert _user_of(staff["alice_token"]) is None
    with session_scope() as s:
        token = auth.start_session(s, user_id=staff["alice"])
    assert app_session.caller_for(auth_token=token).is_staff
    change(False)
    assert _user_of(token) is None
    assert _user_of(staff["bob_token"]) is not None  # nobody else's
