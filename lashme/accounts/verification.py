"""Email verification and the sign-up bonus it unlocks; the account emails (verification, password reset).

Policy: an account made with a password starts unverified and without credits.  The sign-up
bonus (price setting ``signup_bonus``) is granted when the owner proves the address — by the
emailed verification link, by a password-reset link (it reached the same inbox), or by a
provider's ``email_verified`` claim (OpenID Connect).  The grant is one ledger entry with the
idempotency key ``signup_bonus:{user_id}``, the same key :func:`lashme.accounts.auth.sign_up`
uses, so it happens exactly once per account whatever path verifies it, and however often.

Mail texts live in the ``accounts`` catalog (``mail.*`` keys) in the recipient's language;
each message is plain text plus a simple HTML alternative (values escaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from html import escape
from urllib.parse import quote, urlsplit

from sqlmodel import Session

from lashme import i18n
from lashme.accounts import email_tokens
from lashme.credits import ledger
from lashme.errors import AuthError
from lashme.models import LedgerKind, User, utcnow
from lashme.ops import mail
from lashme.ops.settings import get_settings

#: the ledger idempotency key of a user's sign-up bonus (shared with ``auth.sign_up``)
BONUS_KEY = "signup_bonus:{user_id}"


@dataclass(frozen=True)
class Verified:
    """:func:`mark_verified`'s answer.

    Attributes:
        newly: True when this call verified the address (False: it already was).
        bonus: credits granted by this call (0 when none, or granted before).
    """

    newly: bool
    bonus: int


def is_verified(user: User) -> bool:
    """True when the account's address has been proved."""
    return user.email_verified_at is not None


def mark_verified(session: Session, user: User, *, signup_bonus: int) -> Verified:
    """Record that ``user`` proved their address and grant the sign-up bonus once.

    Args:
        session: the caller's open session (the caller commits).
        user: the account (a row of ``session``).
        signup_bonus: the current ``signup_bonus`` price setting (0: no grant).

    Returns:
        Whether this call verified the address and how many credits it granted.
    """
    newly = user.email_verified_at is None
    if newly:
        user.email_verified_at = utcnow()
        session.add(user)
        session.flush()
    granted = 0
    if signup_bonus > 0:
        _, created = ledger.post(
            session,
            user_id=user.id,
            delta=signup_bonus,
            kind=LedgerKind.SIGNUP_BONUS,
            reason="Welcome bonus",
            idempotency_key=BONUS_KEY.format(user_id=user.id),
        )
        granted = signup_bonus if created else 0
    return Verified(newly=newly, bonus=granted)


def _html(intro: str, link: str, button: str, note: str, signature: str) -> str:
    return (
        '<!doctype html><html><body style="font-family:Arial,sans-serif;color:#2e1f26;line-height:1.5">'
        f"<p>{escape(intro)}</p>"
        f'<p><a href="{escape(link, quote=True)}" style="display:inline-block;padding:12px 20px;'
        'background:#b8204f;color:#ffffff;border-radius:10px;text-decoration:none;font-weight:bold">'
        f"{escape(button)}</a></p>"
        f'<p style="font-size:13px;color:#6b5560">{escape(note)}<br>'
        f'<a href="{escape(link, quote=True)}" style="color:#6b5560">{escape(link)}</a></p>'
        f"<p>{escape(signature)}</p></body></html>"
    )


def _message(to: str, locale: str | None, kind: str, link: str, **params: object) -> EmailMessage:
    t = lambda key: i18n.translate(f"mail.{kind}.{key}", locale, **params)  # noqa: E731
    signature = i18n.translate("mail.signature", locale)
    text = f"{t('intro')}\n\n{link}\n\n{t('note')}\n\n{signature}\n"
    html = _html(t("intro"), link, t("button"), t("note"), signature)
    return mail.compose(to=to, subject=t("subject"), text=text, html=html)


def verification_email(to: str, locale: str | None, link: str, *, hours: int) -> EmailMessage:
    """The "confirm your email" message with ``link`` (valid ``hours`` hours), in ``locale``."""
    return _message(to, locale, "verify", link, hours=hours)


def reset_email(to: str, locale: str | None, link: str, *, minutes: int) -> EmailMessage:
    """The "set a new password" message with ``link`` (valid ``minutes`` minutes), in ``locale``."""
    return _message(to, locale, "reset", link, minutes=minutes)


def link_base(origin: str | None) -> str:
    """Where emailed links point: ``LASHME_PUBLIC_URL``, else ``origin`` (``scheme://host[:port]`` only).

    Raises:
        AuthError: ``accounts.link_base_missing`` when neither is a usable http(s) origin.
    """
    base = get_settings().public_url or origin or ""
    url = urlsplit(base.strip())
    if url.scheme not in ("http", "https") or not url.netloc or "@" in url.netloc:
        raise AuthError("accounts.link_base_missing")
    return f"{url.scheme}://{url.netloc}"


def link(origin: str | None, path: str, token: str) -> str:
    """The emailed URL of page ``path`` carrying ``token`` (see :func:`link_base`)."""
    return f"{link_base(origin)}{path}?token={quote(token)}"


def issue_verification(
    session: Session, user: User, *, locale: str | None, origin: str | None
) -> EmailMessage:
    """Make a new "confirm your email" link for ``user`` (earlier ones stop working) and its message.

    Send the message after the transaction commits (the link works only then).

    Raises:
        AuthError: ``accounts.link_base_missing``.
    """
    ttl = get_settings().email_verify_ttl
    token = email_tokens.issue(
        session, user_id=user.id, email=user.email, purpose=email_tokens.VERIFY, ttl_seconds=ttl
    )
    url = link(origin, "/verify-email", token)
    return verification_email(user.email, user.locale or locale, url, hours=max(1, ttl // 3600))


def issue_reset(session: Session, user: User, *, locale: str | None, origin: str | None) -> EmailMessage:
    """Make a new password-reset link for ``user`` (earlier ones stop working) and its message.

    Raises:
        AuthError: ``accounts.link_base_missing``.
    """
    ttl = get_settings().password_reset_ttl
    token = email_tokens.issue(
        session, user_id=user.id, email=user.email, purpose=email_tokens.RESET, ttl_seconds=ttl
    )
    url = link(origin, "/reset-password", token)
    return reset_email(user.email, user.locale or locale, url, minutes=max(1, ttl // 60))
