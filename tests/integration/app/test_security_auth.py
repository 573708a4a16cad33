"""Sign-in, sign-up and password-reset throttles (counted before any hash), and e-mail validation."""

from __future__ import annotations

import pytest

from lashme.accounts import auth, throttle
from lashme.errors import AuthError
from lashme.ops.db import session_scope


@pytest.fixture
def hash_calls(monkeypatch):
    """Counts password verifications (each one is an Argon2 hash: ~0.4 s of a core)."""
    calls = {"n": 0}
    real = auth.verify_password

    def counting(password, password_hash):
        calls["n"] += 1
        return real(password, password_hash)

    monkeypatch.setattr(auth, "verify_password", counting)
    return calls


def _account(email: str) -> None:
    with session_scope() as s:
        auth.sign_up(s, email=email, password="Secret123", signup_bonus=3)


def _sign_in(email: str, password: str, ip: str | None = None) -> str:
    with session_scope() as s:
        try:
            auth.authenticate(s, email=email, password=password, ip=ip)
        except (AuthError, throttle.Throttled) as exc:
            return exc.key
    return "ok"


def test_thirty_wrong_passwords_lock_the_account_after_ten_and_bound_the_hashes(clean_db, hash_calls):
    _account("victim@example.com")
    results = [_sign_in("victim@example.com", f"Wrong{i}pass", ip=f"10.0.0.{i}") for i in range(30)]
    assert results[:10] == ["auth.bad_credentials"] * 10
    assert set(results[10:]) == {"security.signin_locked"}
    assert hash_calls["n"] == 10  # the 20 refused attempts cost no hash
    # the right password is refused too while the lock lasts (the 31st attempt no longer signs in)
    assert _sign_in("victim@example.com", "Secret123", ip="10.9.9.9") == "security.signin_locked"
    assert hash_calls["n"] == 10
    with pytest.raises(throttle.Throttled) as err, session_scope() as s:
        auth.authenticate(s, email="victim@example.com", password="Secret123")
    assert 1 <= err.value.params["minutes"] <= 15
    assert "15" in err.value.message or "min" in err.value.message


def test_a_correct_password_clears_the_failures(clean_db):
    _account("typo@example.com")
    for _ in range(9):
        assert _sign_in("typo@example.com", "Wrong1234") == "auth.bad_credentials"
    assert _sign_in("typo@example.com", "Secret123") == "ok"
    for _ in range(9):  # a fresh allowance
        assert _sign_in("typo@example.com", "Wrong1234") == "auth.bad_credentials"
    assert _sign_in("typo@example.com", "Secret123") == "ok"


def test_unknown_emails_are_locked_like_known_ones(clean_db, hash_calls):
    results = [_sign_in("ghost@example.com", "Whatever1") for _ in range(12)]
    assert results == ["auth.bad_credentials"] * 10 + ["security.signin_locked"] * 2
    assert hash_calls["n"] == 10


def test_one_ip_spraying_many_accounts_is_throttled_per_ip(clean_db, hash_calls):
    results = [_sign_in(f"user{i}@example.com", "Guess1234", ip="203.0.113.7") for i in range(25)]
    assert results[:20] == ["auth.bad_credentials"] * 20
    assert set(results[20:]) == {"security.signin_ip_throttled"}
    assert hash_calls["n"] == 20
    assert _sign_in("user99@example.com", "Guess1234", ip="203.0.113.8") == "auth.bad_credentials"


def test_sign_ups_are_throttled_per_ip_before_hashing(clean_db, monkeypatch):
    hashed = []
    real = auth.hash_password
    monkeypatch.setattr(auth, "hash_password", lambda p: hashed.append(1) or real(p))
    outcomes = []
    for i in range(10):
        with session_scope() as s:
            try:
                auth.sign_up(
                    s, email=f"farm{i}@example.com", password="Secret123", signup_bonus=3, ip="198.51.100.4"
                )
                outcomes.append("ok")
            except throttle.Throttled as exc:
                outcomes.append(exc.key)
    assert outcomes == ["ok"] * 3 + ["security.signup_throttled"] * 7
    assert len(hashed) == 3
    with session_scope() as s:  # another IP, and callers that pass no IP, are unaffected
        auth.sign_up(s, email="other@example.com", password="Secret123", signup_bonus=3, ip="198.51.100.5")
        auth.sign_up(s, email="cli@example.com", password="Secret123", signup_bonus=3)


def test_password_reset_requests_are_throttled_per_account_and_ip(clean_db):
    for _ in range(3):
        throttle.password_reset_requested("anna@example.com", ip="192.0.2.1")
    with pytest.raises(throttle.Throttled) as err:
        throttle.password_reset_requested("anna@example.com", ip="192.0.2.2")
    assert err.value.key == "security.reset_throttled"
    for i in range(7):
        throttle.password_reset_requested(f"other{i}@example.com", ip="192.0.2.1")
    with pytest.raises(throttle.Throttled):
        throttle.password_reset_requested("fresh@example.com", ip="192.0.2.1")


def test_throttles_fall_back_to_process_memory_when_redis_is_down(clean_db):
    dead = "redis://127.0.0.1:1/0"
    for _ in range(3):
        throttle.hit("fallback-test", "x", "3/minute", url=dead)
    with pytest.raises(throttle.Throttled):
        throttle.hit("fallback-test", "x", "3/minute", url=dead)


@pytest.mark.parametrize(
    "email",
    [
        "<script>alert(1)</script>@example.com",
        '"<img src=x onerror=alert(1)>"@example.com',
        "a`b@example.com",
        "anna@exa<b>mple.com",
        "anna\n@example.com",
        "a@b",
        "two@@example.com",
    ],
)
def test_markup_and_malformed_emails_are_refused(email):
    with pytest.raises(AuthError):
        auth.normalize_email(email)


def test_real_addresses_still_pass():
    assert auth.normalize_email("  Anna.Petrova+work@Example.COM ") == "anna.petrova+work@example.com"
    assert auth.normalize_email("o'brien@example.com") == "o'brien@example.com"
    assert auth.normalize_email("master@salon.test") == "master@salon.test"
    assert auth.normalize_email("мастер@пример.рф") == "мастер@пример.рф"
