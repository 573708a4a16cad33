"""Account mail through a real SMTP server on loopback (aiosmtpd): STARTTLS, AUTH, ru/en, plain + HTML."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from lashme.accounts import auth
from lashme.app import account, recovery
from lashme.app import credits as app_credits
from lashme.app import session as app_session
from lashme.app.caller import visitor
from lashme.ops import mail
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from tests.fakes.smtp_mailbox import SmtpMailbox, html_of, link_in, text_of

ORIGIN = "http://127.0.0.1:3000"


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory):
    with SmtpMailbox(tmp_path_factory.mktemp("smtp")) as box:
        yield box


@pytest.fixture
def smtp_env(mailbox, monkeypatch, clean_db):
    for k, v in mailbox.env().items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    yield mailbox
    for k in mailbox.env():
        monkeypatch.delenv(k)
    get_settings.cache_clear()


def test_the_smtp_url_is_parsed_with_its_encoded_password_and_never_shows_it(smtp_env):
    cfg = mail.smtp_config()
    assert (cfg.host, cfg.port, cfg.security, cfg.user, cfg.password) == (
        "127.0.0.1",
        smtp_env.port,
        "starttls",
        "lashme-mailer",
        "s3cret p@ss",
    )
    assert "s3cret" not in repr(cfg) and "s3cret" not in mail.describe()
    assert mail.describe() == f"smtp starttls://127.0.0.1:{smtp_env.port}"


def test_verification_and_reset_mails_arrive_over_starttls_in_the_users_language(smtp_env):
    new = account.sign_up(
        visitor(ip="10.9.0.1", locale="ru"), email="darya@example.com", password="Secret123", origin=ORIGIN
    )
    msg = smtp_env.wait_for("darya@example.com")
    received = smtp_env.received[-1]
    assert received["tls"] and received["auth"] and received["from"] == "no-reply@lashme.test"
    assert msg["Subject"] == "Подтвердите почту для LashMe"
    assert "Подтвердить почту" in html_of(msg) and "Подтвердите адрес почты" in text_of(msg)
    url = link_in(msg, "/verify-email")
    assert f'href="{url}"' in html_of(msg)

    me = app_session.caller_for(auth_token=new.token)
    assert app_credits.balance(me).available == 0
    assert recovery.verify_email(visitor(), url.split("token=")[1]).bonus == 3
    assert app_credits.balance(me).available == 3

    with session_scope() as s:  # an account that chose English gets English mail whatever page asked
        user = auth.sign_up(s, email="emma@example.com", password="Secret123", signup_bonus=3)
        user.locale = "en"
    recovery.request_password_reset(visitor(locale="ru"), "emma@example.com", origin=ORIGIN)
    reset = smtp_env.wait_for("emma@example.com")
    assert reset["Subject"] == "Reset your LashMe password"
    assert "60 min" in text_of(reset)
    signed_in = recovery.reset_password(
        visitor(), link_in(reset, "/reset-password").split("token=")[1], "Fresh2026x"
    )
    assert (
        account.sign_in(visitor(), email="emma@example.com", password="Fresh2026x").user_id
        == signed_in.user_id
    )


def test_a_server_without_starttls_or_with_an_untrusted_certificate_gets_nothing(smtp_env, tmp_path):
    msg = mail.compose(to="x@example.com", subject="s", text="t")
    untrusted = mail.SmtpConfig(
        host="127.0.0.1", port=smtp_env.port, security="starttls", user="u", password="p"
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        mail.send_smtp(msg, untrusted)  # the system CAs do not know the test CA
    from aiosmtpd.controller import Controller

    from lashme.ops.redis_server import free_port

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            return "250 OK"

    plain = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    plain.start()
    try:
        cfg = mail.SmtpConfig(
            host="127.0.0.1", port=plain.port, security="starttls", ca_file=str(smtp_env.ca_file)
        )
        with pytest.raises(smtplib.SMTPNotSupportedError):
            mail.send_smtp(msg, cfg)  # no downgrade to plain text
    finally:
        plain.stop()
    assert smtp_env.messages_to("x@example.com") == []


def test_a_failed_delivery_is_logged_not_raised_and_the_request_answers_alike(smtp_env, monkeypatch, caplog):
    monkeypatch.setenv("SMTP_URL", f"smtp://nobody:wrong@127.0.0.1:{smtp_env.port}")
    get_settings.cache_clear()
    with session_scope() as s:
        auth.sign_up(s, email="fail@example.com", password="Secret123", signup_bonus=3)
    msg = mail.compose(to="fail@example.com", subject="s", text="t")
    assert mail.send_later(msg).result(timeout=20) is None  # wrong password: logged
    assert any("mail delivery failed" in r.getMessage() for r in caplog.records)
    assert recovery.request_password_reset(visitor(), "fail@example.com", origin=ORIGIN) is None
