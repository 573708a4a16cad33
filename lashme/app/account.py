"""Accounts: sign up, sign in (password or an OpenID provider such as Google), sign out.

Signing up or in also claims the jobs this browser made as a visitor
(the caller's visitor token), so a master who tried LashMe before creating an
account finds her photos in her gallery.  Passwords are only ever passed
through; nothing here keeps them.

Sign-up bonus policy: a password sign-up starts with no credits and gets a "confirm your
email" link; the bonus is granted when the address is confirmed
(:mod:`lashme.app.recovery`, :mod:`lashme.accounts.verification`), so throwaway addresses
farm nothing.  An account made or linked through Google (verified address) gets it at once.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from lashme.accounts import auth, oidc, verification
from lashme.app.caller import Caller
from lashme.credits import pricing
from lashme.errors import AuthError
from lashme.ops import mail
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)

#: longest email / password a client may send (longer input is cut, then refused by the checks)
MAX_EMAIL, MAX_PASSWORD = 254, 128


@dataclass(frozen=True)
class SignedIn:
    """A new sign-in session.

    Attributes:
        user_id: the account.
        token: the session's bearer token (43 URL-safe characters); store it in the
            :data:`lashme.accounts.auth.SESSION_COOKIE` cookie, never in page state.
        days: how long the session lasts.
        claimed_jobs: visitor jobs of this browser that now belong to the account.
        next_path: where to go now (a same-site path; set by :func:`google_finish`).
    """

    user_id: int
    token: str
    days: int
    claimed_jobs: int = 0
    next_path: str = "/"


def sign_up(caller: Caller, *, email: str, password: str, origin: str | None = None) -> SignedIn:
    """Create an account, claim the browser's jobs, sign in and mail a "confirm your email" link.

    The sign-up bonus is not granted here: confirming the address grants it
    (:func:`lashme.app.recovery.verify_email`).  The mail leaves after the commit, on a background
    thread; a failed delivery is logged and the master can ask again from the banner.

    Args:
        caller: who signs up (visitor token, IP, language).
        email: the address typed.
        password: the new password.
        origin: the page's origin for the emailed link (``LASHME_PUBLIC_URL`` wins); without
            either, no link is sent (the banner's "send again" works once it is known).

    Raises:
        AuthError: ``auth.email_invalid``, ``auth.password_weak`` or ``auth.email_taken``.
        Throttled: too many sign-ups from the caller's IP.
    """
    days = get_settings().session_days
    msg = None
    with session_scope() as s:
        user = auth.sign_up(
            s,
            email=str(email)[:MAX_EMAIL],
            password=str(password)[:MAX_PASSWORD],
            signup_bonus=0,
            anon_token=caller.anon_token,
            ip=caller.ip,
        )
        token = auth.start_session(s, user_id=user.id, days=days)
        try:
            msg = verification.issue_verification(s, user, locale=caller.locale, origin=origin)
        except AuthError:
            log.warning("no origin for the verification link (set LASHME_PUBLIC_URL)")
        result = SignedIn(user_id=user.id, token=token, days=days)
    if msg is not None:
        mail.send_later(msg)
    return result


def sign_in(caller: Caller, *, email: str, password: str) -> SignedIn:
    """Check the credentials, claim the browser's visitor jobs and start a sign-in session.

    Raises:
        AuthError: ``auth.bad_credentials`` or ``auth.blocked``.
        Throttled: too many attempts for the account or from the caller's IP.
    """
    days = get_settings().session_days
    with session_scope() as s:
        user = auth.authenticate(
            s, email=str(email)[:MAX_EMAIL], password=str(password)[:MAX_PASSWORD], ip=caller.ip
        )
        claimed = auth.claim_anonymous_jobs(s, user_id=user.id, anon_token=caller.anon_token)
        token = auth.start_session(s, user_id=user.id, days=days)
        return SignedIn(user_id=user.id, token=token, days=days, claimed_jobs=claimed)


def sign_out(auth_token: str | None) -> None:
    """End the sign-in session of ``auth_token`` on the server (an unknown token: nothing happens).

    Takes the token rather than a :class:`Caller`: signing out must work even for a
    session that just expired or whose account was blocked.
    """
    with session_scope() as s:
        auth.end_session(s, auth_token)


def google_enabled() -> bool:
    """True when "Sign in with Google" is configured (the pages show its button only then)."""
    return oidc.provider() is not None


def google_begin(caller: Caller, *, redirect_uri: str, next_path: str = "/") -> tuple[str, str]:
    """Start "Sign in with Google": the provider's URL to send the browser to, and the state for its cookie.

    Args:
        caller: who asks (a visitor or a signed-in user switching accounts).
        redirect_uri: our callback URL (``…/auth/google/callback``), as registered at Google.
        next_path: a same-site path to open afterwards (anything else becomes ``/``).

    Raises:
        AuthError: ``accounts.google_off`` (not configured) or ``accounts.google_failed``.
    """
    p = oidc.provider()
    if p is None:
        raise AuthError("accounts.google_off")
    with session_scope() as s:
        return oidc.begin(s, p, redirect_uri=redirect_uri, next_path=safe_path(next_path))


def google_finish(
    caller: Caller,
    *,
    state: str | None,
    cookie_state: str | None,
    code: str | None,
    error: str | None,
    redirect_uri: str,
) -> SignedIn:
    """Finish "Sign in with Google": check the return, verify the ID token, sign in (linking or creating).

    Args:
        caller: this browser (visitor token for claiming jobs, IP for the sign-up throttle).
        state: the ``state`` query parameter the provider sent back.
        cookie_state: the state this browser kept in its HttpOnly cookie (must equal ``state``).
        code: the authorization code, or None when the provider sent an error.
        error: the provider's ``error`` parameter (``access_denied`` when the person said no).
        redirect_uri: the same callback URL :func:`google_begin` used.

    Returns:
        A new sign-in session; ``next_path`` is where the browser should go.

    Raises:
        AuthError: ``accounts.google_off``, ``accounts.google_failed``, ``accounts.google_canceled``,
            ``accounts.google_email_unverified``, ``auth.email_invalid`` or ``auth.blocked``.
        Throttled: too many new accounts from the caller's IP.
    """
    p = oidc.provider()
    if p is None:
        raise AuthError("accounts.google_off")
    if not state or not cookie_state or not hmac.compare_digest(str(state), str(cookie_state)):
        raise AuthError(oidc.FAILED)
    with session_scope() as s:
        pending = oidc.take(s, str(state))
    if error:
        raise AuthError("accounts.google_canceled" if error == "access_denied" else oidc.FAILED)
    identity = oidc.exchange(p, code=str(code or ""), pending=pending, redirect_uri=redirect_uri)
    days = get_settings().session_days
    with session_scope() as s:
        user = oidc.link_or_create(
            s,
            identity,
            signup_bonus=pricing.get_prices(s).signup_bonus,
            anon_token=caller.anon_token,
            ip=caller.ip,
        )
        token = auth.start_session(s, user_id=user.id, days=days)
        return SignedIn(user_id=user.id, token=token, days=days, next_path=pending.next_path)


def public_url() -> str | None:
    """``LASHME_PUBLIC_URL`` (the site's public origin), or None when the request's own is used."""
    return get_settings().public_url or None


def safe_path(value: str | None) -> str:
    """A same-site path to go to after signing in (no open redirects); ``/`` otherwise."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:300]
    return "/"
