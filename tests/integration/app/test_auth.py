"""Accounts: normalisation, password rules, argon2 hashing, sessions, claiming anonymous jobs."""

from __future__ import annotations

import pytest

from lashme.accounts import auth
from lashme.errors import AuthError
from lashme.models import Job
from lashme.ops.db import session_scope
from tests.dbutil import count


def test_email_is_normalised_and_unique(clean_db):
    with session_scope() as s:
        user = auth.sign_up(s, email="  Anna@Example.COM ", password="Secret123", signup_bonus=3)
    assert user.email == "anna@example.com"
    with session_scope() as s, pytest.raises(AuthError) as err:
        auth.sign_up(s, email="ANNA@example.com", password="Secret123", signup_bonus=3)
    assert err.value.key == "auth.email_taken"


@pytest.mark.parametrize("pw", ["short1A", "alllowercase1", "ALLUPPER123", "NoDigitsHere", ""])
def test_weak_passwords_refused(clean_db, pw):
    with session_scope() as s, pytest.raises(AuthError) as err:
        auth.sign_up(s, email="a@example.com", password=pw, signup_bonus=3)
    assert err.value.key == "auth.password_weak"


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@b", "two@@example.com", "sp ace@example.com"])
def test_bad_emails_refused(email):
    with pytest.raises(AuthError):
        auth.normalize_email(email)


def test_argon2_hash_and_sign_in(clean_db):
    with session_scope() as s:
        user = auth.sign_up(s, email="b@example.com", password="Secret123", signup_bonus=3)
    assert user.password_hash.startswith("$argon2")
    with session_scope() as s:
        assert auth.authenticate(s, email="B@example.com", password="Secret123").id == user.id
        with pytest.raises(AuthError):
            auth.authenticate(s, email="b@example.com", password="Wrong1234")
        with pytest.raises(AuthError):
            auth.authenticate(s, email="nobody@example.com", password="Secret123")


def test_session_tokens_and_sign_out(clean_db):
    with session_scope() as s:
        user = auth.sign_up(s, email="c@example.com", password="Secret123", signup_bonus=3)
        token = auth.start_session(s, user_id=user.id)
    with session_scope() as s:
        assert auth.user_for_token(s, token).id == user.id
        assert auth.user_for_token(s, token + "x") is None
        assert auth.user_for_token(s, "") is None
        auth.end_session(s, token)
    with session_scope() as s:
        assert auth.user_for_token(s, token) is None


def test_blocked_user_cannot_sign_in(clean_db):
    with session_scope() as s:
        user = auth.sign_up(s, email="d@example.com", password="Secret123", signup_bonus=3)
        token = auth.start_session(s, user_id=user.id)
        user.is_blocked = True
        s.add(user)
    with session_scope() as s:
        assert auth.user_for_token(s, token) is None
        with pytest.raises(AuthError) as err:
            auth.authenticate(s, email="d@example.com", password="Secret123")
        assert err.value.key == "auth.blocked"


def test_signup_claims_this_browsers_anonymous_jobs_only(clean_db):
    mine, theirs = "browser-token-mine", "browser-token-theirs"
    with session_scope() as s:
        for tok in (mine, mine, theirs):
            s.add(
                Job(
                    anon_token_hash=auth.token_hash(tok),
                    provider="studio",
                    presets=[],
                    original_key="k",
                    original_width=1,
                    original_height=1,
                )
            )
    with session_scope() as s:
        user = auth.sign_up(s, email="e@example.com", password="Secret123", signup_bonus=3, anon_token=mine)
    with session_scope() as s:
        assert count(s, Job, Job.user_id == user.id) == 2
        assert count(s, Job, Job.user_id.is_(None)) == 1
