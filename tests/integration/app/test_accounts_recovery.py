"""Password reset and email verification through the use-cases, with the default mail transport (the outbox).

No SMTP is configured in unit tests, so every message lands as an ``.eml`` file in
``<data_dir>/outbox``: the same product path an operator without SMTP gets.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from lashme.accounts import auth, email_tokens, verification
from lashme.accounts.throttle import Throttled
from lashme.app import account, recovery
from lashme.app import credits as app_credits
from lashme.app import session as app_session
from lashme.app.caller import visitor
from lashme.credits import ledger, pricing
from lashme.errors import AuthError
from lashme.models import EmailToken, LedgerEntry, LedgerKind, User
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from tests.dbutil import count

ORIGIN = "http://127.0.0.1:3000"


@pytest.fixture
def outbox(clean_db):
    folder: Path = get_settings().outbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.eml"):
        f.unlink()
    return folder


def _mails(folder: Path, to: str):
    out = []
    for f in sorted(folder.glob("*.eml")):
        msg = message_from_bytes(f.read_bytes(), policy=policy.default)
        if msg["To"] == to:
            out.append(msg)
    return out


def _wait_mail(folder: Path, to: str, n: int = 1, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _mails(folder, to)
        if len(got) >= n:
            return got[n - 1]
        time.sleep(0.02)
    raise AssertionError(f"no mail #{n} to {to}")


def _link(msg, path: str) -> str:
    text = msg.get_body(preferencelist=("plain",)).get_content()
    return next(u for u in re.findall(r"https?://\S+", text) if path + "?" in u)


def _token(url: str) -> str:
    return url.split("token=", 1)[1]


def _caller(token: str):
    return app_session.caller_for(auth_token=token)


def test_sign_up_grants_the_bonus_only_when_the_emailed_link_is_followed_once(outbox):
    with session_scope() as s:
        pricing.set_price(s, "signup_bonus", 4, actor="test")
    browser = visitor(anon_token="b-verify", ip="10.1.0.1", locale="ru")
    new = account.sign_up(browser, email="Nina@Example.com", password="Secret123", origin=ORIGIN)
    nina = _caller(new.token)
    assert app_credits.balance(nina).available == 0
    assert recovery.status(nina) == recovery.Status(email="nina@example.com", verified=False)

    msg = _wait_mail(outbox, "nina@example.com")
    assert msg["Subject"] == "Подтвердите почту для LashMe"  # in the language of the page she signed up on
    assert msg.get_body(preferencelist=("html",)) is not None
    url = _link(msg, "/verify-email")
    assert url.startswith(ORIGIN + "/verify-email?token=")

    done = recovery.verify_email(visitor(), _token(url))  # from the mail app's browser: no session needed
    assert (done.email, done.bonus) == ("nina@example.com", 4)
    assert app_credits.balance(nina).available == 4
    assert recovery.status(nina).verified
    with pytest.raises(AuthError) as err:  # single use
        recovery.verify_email(visitor(), _token(url))
    assert err.value.key == "accounts.link_invalid"
    with session_scope() as s:
        bonus = (
            s.execute(
                select(LedgerEntry).where(
                    LedgerEntry.user_id == new.user_id, LedgerEntry.kind == LedgerKind.SIGNUP_BONUS
                )
            )
            .scalars()
            .all()
        )
        assert len(bonus) == 1 and bonus[0].delta == 4
        # whatever else verifies the address later (a reset link, Google) grants nothing more
        assert verification.mark_verified(s, s.get(User, new.user_id), signup_bonus=4).bonus == 0
    assert app_credits.balance(nina).available == 4


def test_resending_makes_the_older_link_stop_working_and_is_throttled(outbox):
    new = account.sign_up(
        visitor(ip="10.1.0.2"), email="olga@example.com", password="Secret123", origin=ORIGIN
    )
    olga = _caller(new.token)
    first = _link(_wait_mail(outbox, "olga@example.com"), "/verify-email")
    recovery.resend_verification(olga, origin=ORIGIN)
    second = _link(_wait_mail(outbox, "olga@example.com", 2), "/verify-email")
    assert first != second
    with pytest.raises(AuthError):
        recovery.verify_email(visitor(), _token(first))
    assert recovery.verify_email(visitor(), _token(second)).bonus == 3
    recovery.resend_verification(olga, origin=ORIGIN)  # confirmed: nothing more is sent
    recovery.resend_verification(olga, origin=ORIGIN)
    with pytest.raises(Throttled) as err:
        recovery.resend_verification(olga, origin=ORIGIN)
    assert err.value.key == "accounts.resend_throttled"
    assert len(_mails(outbox, "olga@example.com")) == 2
    with pytest.raises(AuthError):
        recovery.resend_verification(visitor(), origin=ORIGIN)


def test_reset_request_answers_alike_for_unknown_addresses_and_mails_only_real_accounts(outbox):
    with session_scope() as s:
        auth.sign_up(s, email="vera@example.com", password="Secret123", signup_bonus=3)
    assert (
        recovery.request_password_reset(
            visitor(ip="10.2.0.1", locale="en"), "Vera@example.com", origin=ORIGIN
        )
        is None
    )
    assert (
        recovery.request_password_reset(visitor(ip="10.2.0.1"), "nobody@example.com", origin=ORIGIN) is None
    )
    msg = _wait_mail(outbox, "vera@example.com")
    assert msg["Subject"] == "Reset your LashMe password"
    assert "60 min" in msg.get_body(preferencelist=("plain",)).get_content()
    # nothing is queued for an address without an account (the known one's mail has already arrived)
    assert _mails(outbox, "nobody@example.com") == []
    with pytest.raises(AuthError) as err:
        recovery.request_password_reset(visitor(), "not an email", origin=ORIGIN)
    assert err.value.key == "auth.email_invalid"


def test_reset_requests_are_throttled_for_known_and_unknown_addresses_alike(outbox):
    with session_scope() as s:
        auth.sign_up(s, email="tanya@example.com", password="Secret123", signup_bonus=3)
    for address in ("tanya@example.com", "ghost@example.com"):
        for _ in range(3):
            recovery.request_password_reset(visitor(ip=None), address, origin=ORIGIN)
        with pytest.raises(Throttled) as err:
            recovery.request_password_reset(visitor(ip=None), address, origin=ORIGIN)
        assert err.value.key == "security.reset_throttled"


def test_a_reset_link_sets_the_password_once_ends_every_session_and_starts_a_new_one(outbox):
    with session_scope() as s:
        user = auth.sign_up(s, email="zoya@example.com", password="Secret123", signup_bonus=3)
        uid = user.id
        phone, laptop = auth.start_session(s, user_id=uid), auth.start_session(s, user_id=uid)
    recovery.request_password_reset(visitor(), "zoya@example.com", origin=ORIGIN)
    token = _token(_link(_wait_mail(outbox, "zoya@example.com"), "/reset-password"))
    assert recovery.reset_link_valid(visitor(), token)
    with pytest.raises(AuthError) as err:  # a weak password spends nothing
        recovery.reset_password(visitor(), token, "weak")
    assert err.value.key == "auth.password_weak"
    assert recovery.reset_link_valid(visitor(), token)

    signed_in = recovery.reset_password(visitor(anon_token="b-reset"), token, "NewSecret456")
    assert signed_in.user_id == uid
    assert _caller(phone).user_id is None and _caller(laptop).user_id is None
    assert _caller(signed_in.token).user_id == uid
    assert not recovery.reset_link_valid(visitor(), token)
    with pytest.raises(AuthError) as err:
        recovery.reset_password(visitor(), token, "Another789")
    assert err.value.key == "accounts.link_invalid"
    with pytest.raises(AuthError):
        account.sign_in(visitor(), email="zoya@example.com", password="Secret123")
    assert account.sign_in(visitor(), email="zoya@example.com", password="NewSecret456").user_id == uid
    with session_scope() as s:  # already verified with its bonus: the reset granted nothing more
        assert ledger.get_balance(s, uid).available == 3


def test_reset_links_expire_and_die_with_a_newer_one_or_a_changed_address(outbox):
    with session_scope() as s:
        uid = auth.sign_up(s, email="lena@example.com", password="Secret123", signup_bonus=3).id
        old = email_tokens.issue(s, user_id=uid, email="lena@example.com", purpose="reset", ttl_seconds=3600)
        new = email_tokens.issue(s, user_id=uid, email="lena@example.com", purpose="reset", ttl_seconds=3600)
    assert not recovery.reset_link_valid(visitor(), old)
    assert recovery.reset_link_valid(visitor(), new)
    with session_scope() as s:  # an hour later
        s.execute(update(EmailToken).values(expires_at=EmailToken.expires_at - timedelta(hours=1, seconds=1)))
    assert not recovery.reset_link_valid(visitor(), new)
    with pytest.raises(AuthError):
        recovery.reset_password(visitor(), new, "NewSecret456")
    with session_scope() as s:
        fresh = email_tokens.issue(
            s, user_id=uid, email="lena@example.com", purpose="reset", ttl_seconds=3600
        )
        s.get(User, uid).email = "lena.new@example.com"
    assert not recovery.reset_link_valid(visitor(), fresh)
    with pytest.raises(AuthError):  # a verification token is no reset token
        with session_scope() as s:
            v = email_tokens.issue(
                s, user_id=uid, email="lena.new@example.com", purpose="verify", ttl_seconds=60
            )
        recovery.reset_password(visitor(), v, "NewSecret456")
    with session_scope() as s:
        assert count(s, EmailToken) == 4


def test_a_reset_link_confirms_an_unverified_address_and_grants_its_bonus_once(outbox):
    new = account.sign_up(
        visitor(ip="10.3.0.1"), email="mila@example.com", password="Secret123", origin=ORIGIN
    )
    recovery.request_password_reset(visitor(), "mila@example.com", origin=ORIGIN)
    msg = next(
        m
        for m in (_wait_mail(outbox, "mila@example.com", 2), _wait_mail(outbox, "mila@example.com", 1))
        if "/reset-password?" in m.get_body(preferencelist=("plain",)).get_content()
    )
    signed_in = recovery.reset_password(visitor(), _token(_link(msg, "/reset-password")), "NewSecret456")
    assert app_credits.balance(_caller(signed_in.token)).available == 3
    assert recovery.status(_caller(signed_in.token)).verified
    assert signed_in.user_id == new.user_id


def test_links_use_the_public_url_and_refuse_to_be_made_without_an_origin(outbox, monkeypatch):
    assert verification.link_base("https://evil.example.com/path?q") == "https://evil.example.com"
    monkeypatch.setenv("LASHME_PUBLIC_URL", "https://lashme.example")
    get_settings.cache_clear()
    try:
        assert verification.link_base("http://forged-host.example") == "https://lashme.example"
    finally:
        monkeypatch.delenv("LASHME_PUBLIC_URL")
        get_settings.cache_clear()
    for bad in ("", None, "javascript:alert(1)", "http://user@host"):
        with pytest.raises(AuthError):
            verification.link_base(bad)


def test_the_outbox_files_are_private_and_the_mail_says_where_it_goes(outbox):
    from lashme.ops import mail

    assert mail.describe().startswith("outbox ")
    path = Path(
        mail.send(mail.compose(to="x@example.com", subject="Привет", text="тест", html="<p>тест</p>"))
    )
    assert path.parent == outbox and path.suffix == ".eml"
    assert path.stat().st_mode & 0o077 == 0
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "Привет" and msg["Auto-Submitted"] == "auto-generated"
