"""Account recovery and email verification: the use-cases behind the emailed links.

- :func:`request_password_reset` — "Forgot password?": throttled per address and IP, then a
  single-use link valid ``LASHME_PASSWORD_RESET_TTL`` seconds (1 h) is mailed when the account
  exists.  The answer is the same (None, at the same speed: the mail leaves on a background
  thread) whether or not it does, so the form tells nobody which addresses have accounts.
- :func:`reset_link_valid` / :func:`reset_password` — the link's page: a new password ends
  every sign-in session of the account and starts one for this browser; the address counts as
  verified (the link reached its inbox), which grants the sign-up bonus if still due.
- :func:`send_verification` / :func:`resend_verification` / :func:`verify_email` — the
  "confirm your email" link sent at sign-up; confirming grants the sign-up bonus exactly once.
- :func:`status` — whether the signed-in caller still has to confirm the address (the banner).

Links point at ``LASHME_PUBLIC_URL`` when set, else at the origin the caller's page was served
from (``origin``); set ``LASHME_PUBLIC_URL`` in production so a forged ``Host`` cannot aim a
mailed link elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from lashme.accounts import auth, email_tokens, passwords, throttle, verification
from lashme.app.account import MAX_EMAIL, MAX_PASSWORD, SignedIn
from lashme.app.caller import Caller
from lashme.credits import pricing
from lashme.errors import AuthError
from lashme.models import User
from lashme.ops import mail
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

#: verification mails one account may ask for again
RESEND_RATE = "3/hour;10/day"


@dataclass(frozen=True)
class Status:
    """The signed-in caller's address and whether it is confirmed (``verified`` is True for visitors)."""

    email: str
    verified: bool


@dataclass(frozen=True)
class Confirmed:
    """:func:`verify_email`'s answer.

    Attributes:
        email: the confirmed address.
        bonus: credits granted now (0 when none were due).
    """

    email: str
    bonus: int


def send_verification(caller: Caller, *, origin: str | None) -> None:
    """Mail the signed-in caller a new "confirm your email" link (earlier ones stop working).

    Nothing is sent when the address is already confirmed.

    Raises:
        AuthError: ``auth.required`` for a visitor; ``accounts.link_base_missing``.
    """
    user_id = caller.require_user()
    verification.link_base(origin)
    with session_scope() as s:
        user = s.get(User, user_id)
        if user is None or verification.is_verified(user):
            return
        msg = verification.issue_verification(s, user, locale=caller.locale, origin=origin)
    mail.send_later(msg)


def resend_verification(caller: Caller, *, origin: str | None) -> None:
    """:func:`send_verification`, throttled per account (:data:`RESEND_RATE`).

    Raises:
        AuthError: ``auth.required`` for a visitor.
        Throttled: ``accounts.resend_throttled`` with ``minutes``.
    """
    user_id = caller.require_user()
    throttle.hit("verify-resend", str(user_id), RESEND_RATE, message="accounts.resend_throttled")
    send_verification(caller, origin=origin)


def verify_email(caller: Caller, token: str) -> Confirmed:
    """Spend a "confirm your email" link: mark the address confirmed, grant the sign-up bonus once.

    Works from any browser (the mail app's too); it signs nobody in.

    Raises:
        AuthError: ``accounts.link_invalid`` (unknown, used, superseded or expired link).
    """
    with session_scope() as s:
        spent = email_tokens.spend(s, str(token or ""), email_tokens.VERIFY)
        user = s.get(User, spent.user_id)
        done = verification.mark_verified(s, user, signup_bonus=pricing.get_prices(s).signup_bonus)
        return Confirmed(email=user.email, bonus=done.bonus)


def status(caller: Caller) -> Status:
    """Whether the signed-in caller has confirmed their address (a visitor: nothing to confirm)."""
    if caller.user_id is None:
        return Status(email="", verified=True)
    with session_scope() as s:
        user = s.get(User, caller.user_id)
        if user is None:
            return Status(email="", verified=True)
        return Status(email=user.email, verified=verification.is_verified(user))


def request_password_reset(caller: Caller, email: str, *, origin: str | None) -> None:
    """Mail a password-reset link when an account has ``email``; answer alike when none has.

    Args:
        caller: who asks (their IP is throttled, the mail is in their language unless the
            account saved one).
        email: the address typed.
        origin: the page's origin, for the link (``LASHME_PUBLIC_URL`` wins).

    Raises:
        AuthError: ``auth.email_invalid`` (not an address at all); ``accounts.link_base_missing``.
        Throttled: ``security.reset_throttled`` (per address or per IP, known or not).
    """
    address = auth.normalize_email(str(email)[:MAX_EMAIL])
    verification.link_base(origin)
    throttle.password_reset_requested(address, caller.ip)
    msg = None
    with session_scope() as s:
        user = passwords.account_for_reset(s, address)
        if user is not None:
            msg = verification.issue_reset(s, user, locale=caller.locale, origin=origin)
    if msg is not None:
        mail.send_later(msg)


def reset_link_valid(caller: Caller, token: str) -> bool:
    """True when the reset link would still work (nothing is spent; the page checks it on load)."""
    with session_scope() as s:
        return email_tokens.peek(s, str(token or ""), email_tokens.RESET) is not None


def reset_password(caller: Caller, token: str, password: str) -> SignedIn:
    """Spend a reset link: set the new password, end every session of the account, sign this browser in.

    Also confirms the address (granting the sign-up bonus if still due) and claims this browser's
    visitor jobs.

    Raises:
        AuthError: ``accounts.link_invalid``, ``auth.password_weak`` (the link stays usable) or
            ``auth.blocked``.
    """
    days = get_settings().session_days
    password = str(password or "")[:MAX_PASSWORD]
    auth.check_password_strength(password)
    with session_scope() as s:
        spent = email_tokens.spend(s, str(token or ""), email_tokens.RESET)
        user = s.get(User, spent.user_id)
        if user.is_blocked:
            raise AuthError("auth.blocked")
        passwords.replace_password(s, user, password)
        verification.mark_verified(s, user, signup_bonus=pricing.get_prices(s).signup_bonus)
        claimed = auth.claim_anonymous_jobs(s, user_id=user.id, anon_token=caller.anon_token)
        session_token = auth.start_session(s, user_id=user.id, days=days)
        return SignedIn(user_id=user.id, token=session_token, days=days, claimed_jobs=claimed)
