""" "Sign in with Google" against a real OpenID provider on loopback (oidc-provider-mock, RS256, nonce required).

The backend routes (``lashme.ui.web_auth``) are driven with Starlette's TestClient; the provider's
consent step is a real form POST to its authorization endpoint.
"""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from lashme.accounts import auth, oidc
from lashme.app import account, recovery
from lashme.app import credits as app_credits
from lashme.app import session as app_session
from lashme.app.caller import visitor
from lashme.errors import AuthError
from lashme.models import User, UserIdentity
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.ui import web_auth
from tests.fakes.oidc_provider import CLIENT_ID, OidcProvider, query_of


@pytest.fixture(scope="module")
def provider():
    with OidcProvider() as p:
        yield p


@pytest.fixture
def google(provider, monkeypatch, clean_db):
    for k, v in provider.env().items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    yield provider
    for k in provider.env():
        monkeypatch.delenv(k)
    get_settings.cache_clear()


@pytest.fixture
def browser():
    with TestClient(Starlette(routes=web_auth.ROUTES), follow_redirects=False) as c:
        yield c


def _sign_in(browser, provider, sub: str, next_path: str = "/gallery"):
    start = browser.get(f"/auth/google/start?next={next_path}")
    assert start.status_code == 303, start.text
    callback = provider.authorize(start.headers["location"], sub)
    return start, browser.get(callback.split("testserver", 1)[1])


def _user(token: str):
    return app_session.caller_for(auth_token=token)


def test_a_new_person_gets_a_verified_account_with_the_bonus_once(google, browser):
    google.set_user("sub-anna", email="Anna@Example.com", email_verified=True)
    start, done = _sign_in(browser, google, "sub-anna")

    q = query_of(start.headers["location"])
    assert start.headers["location"].startswith(google.issuer + "/oauth2/authorize?")
    assert q["client_id"] == CLIENT_ID and q["response_type"] == "code" and "openid" in q["scope"].split()
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 43 and len(q["nonce"]) >= 43
    assert q["redirect_uri"] == "http://testserver/auth/google/callback"
    state_cookie = start.headers["set-cookie"]
    assert (
        "lashme_oidc_state=" in state_cookie
        and "HttpOnly" in state_cookie
        and "Path=/auth/google" in state_cookie
    )

    assert done.status_code == 303 and done.headers["location"] == "/gallery"
    token = browser.cookies.get(app_session.SESSION_COOKIE)
    anna = _user(token)
    assert anna.signed_in and recovery.status(anna) == recovery.Status(
        email="anna@example.com", verified=True
    )
    assert app_credits.balance(anna).available == 3

    _, again = _sign_in(browser, google, "sub-anna", "/dashboard")  # the same person again: same account
    assert again.headers["location"] == "/dashboard"
    again_token = browser.cookies.get(app_session.SESSION_COOKIE)
    assert again_token != token and _user(again_token).user_id == anna.user_id
    assert _user(token).user_id is None  # this browser's previous session ended
    assert app_credits.balance(anna).available == 3
    with session_scope() as s:
        assert s.execute(select(UserIdentity.subject)).scalars().all() == ["sub-anna"]
        assert s.get(User, anna.user_id).password_hash == oidc.NO_PASSWORD


def test_an_existing_account_is_linked_by_verified_email(google, browser):
    with session_scope() as s:
        bella = auth.sign_up(s, email="bella@example.com", password="Secret123", signup_bonus=3).id
    google.set_user("sub-bella", email="bella@example.com", email_verified=True)
    _, done = _sign_in(browser, google, "sub-bella")
    me = _user(browser.cookies.get(app_session.SESSION_COOKIE))
    assert done.headers["location"] == "/gallery" and me.user_id == bella
    assert app_credits.balance(me).available == 3  # no second bonus
    assert account.sign_in(visitor(), email="bella@example.com", password="Secret123").user_id == bella


def test_linking_an_unproved_password_account_locks_out_whoever_set_that_password(google, browser):
    squatter = account.sign_up(visitor(ip="10.7.0.1"), email="cleo@example.com", password="Secret123")
    google.set_user("sub-cleo", email="cleo@example.com", email_verified=True)
    _, done = _sign_in(browser, google, "sub-cleo")
    cleo = _user(browser.cookies.get(app_session.SESSION_COOKIE))
    assert cleo.user_id == squatter.user_id and recovery.status(cleo).verified
    assert _user(squatter.token).user_id is None
    with pytest.raises(AuthError):
        account.sign_in(visitor(), email="cleo@example.com", password="Secret123")
    assert app_credits.balance(cleo).available == 3


def test_an_address_google_has_not_verified_links_and_creates_nothing(google, browser):
    with session_scope() as s:
        auth.sign_up(s, email="dina@example.com", password="Secret123", signup_bonus=3)
    google.set_user("sub-dina", email="dina@example.com", email_verified=False)
    _, done = _sign_in(browser, google, "sub-dina")
    assert done.headers["location"] == "/login?error=accounts.google_email_unverified"
    assert browser.cookies.get(app_session.SESSION_COOKIE) is None
    google.set_user("sub-eva", email="eva@example.com", email_verified=False)
    _, done = _sign_in(browser, google, "sub-eva")
    assert done.headers["location"] == "/login?error=accounts.google_email_unverified"
    with session_scope() as s:
        assert s.execute(select(User).where(User.email == "eva@example.com")).first() is None
        assert s.execute(select(UserIdentity)).first() is None


def test_a_return_without_this_browsers_state_or_a_replayed_one_signs_nobody_in(google, browser):
    google.set_user("sub-fay", email="fay@example.com", email_verified=True)
    start = browser.get("/auth/google/start")
    callback = google.authorize(start.headers["location"], "sub-fay").split("testserver", 1)[1]
    with TestClient(Starlette(routes=web_auth.ROUTES), follow_redirects=False) as other:
        forged = other.get(callback)  # login CSRF: someone else's callback in this browser
    assert forged.headers["location"] == "/login?error=accounts.google_failed"
    ok = browser.get(callback)
    assert ok.headers["location"] == "/"
    browser.cookies.set("lashme_oidc_state", query_of(callback)["state"], path="/auth/google")
    replay = browser.get(callback)
    assert replay.headers["location"] == "/login?error=accounts.google_failed"
    browser.cookies.delete("lashme_oidc_state")
    denied = browser.get("/auth/google/start?next=//evil.example")
    deny_state = query_of(denied.headers["location"])["state"]
    out = browser.get(f"/auth/google/callback?state={deny_state}&error=access_denied")
    assert out.headers["location"] == "/login?error=accounts.google_canceled"


def test_id_tokens_are_checked_signature_nonce_and_audience(google, browser):
    google.set_user("sub-gala", email="gala@example.com", email_verified=True)
    p = oidc.provider()
    with session_scope() as s:
        url, state = oidc.begin(s, p, redirect_uri="http://testserver/cb", next_path="/")
    code = query_of(google.authorize(url, "sub-gala"))["code"]
    with session_scope() as s:
        pending = oidc.take(s, state)
    wrong_nonce = oidc.Pending(nonce="not-the-one", code_verifier=pending.code_verifier, next_path="/")
    with pytest.raises(AuthError):
        oidc.exchange(p, code=code, pending=wrong_nonce, redirect_uri="http://testserver/cb")

    meta = oidc.metadata(p)
    key = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    claims = {"iss": p.issuer, "aud": CLIENT_ID, "sub": "x", "iat": 1, "exp": 4102444800, "nonce": "n"}
    forged = jwt.encode({"alg": "RS256", "kid": "attacker"}, claims, key)
    with pytest.raises(AuthError):  # not signed by the provider's keys
        oidc.verify_id_token(p, meta, forged, nonce="n", access_token=None)
    with pytest.raises(AuthError):
        oidc.verify_id_token(p, meta, "not.a.jwt", nonce="n", access_token=None)


def test_the_button_is_off_without_configuration(clean_db, browser, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLIENT_ID", raising=False)
    get_settings.cache_clear()
    assert not account.google_enabled()
    out = browser.get("/auth/google/start")
    assert out.headers["location"] == "/login?error=accounts.google_off"
