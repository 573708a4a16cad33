"""Sign-in over plain HTTP routes on the backend: "Sign in with Google" and the session cookie they set.

Mounted in ``lashme/lashme.py`` beside the file and webhook routes:

- ``GET /auth/google/start?next=/path`` — asks :func:`lashme.app.account.google_begin` for the
  provider's URL, keeps the OAuth ``state`` in an HttpOnly cookie (:data:`STATE_COOKIE`,
  10 minutes, only sent to ``/auth/google``) and redirects (303) the browser to Google.
- ``GET /auth/google/callback?state=&code=`` — :func:`lashme.app.account.google_finish` checks
  the cookie's state against the query's, verifies the ID token and signs in; the route then
  sets the sign-in cookie with :func:`set_session_cookie` and redirects to the ``next`` path.
  Any refusal redirects to ``/login?error=<message key>`` (the sign-in page shows it).

:func:`set_session_cookie` is the one place a sign-in session becomes a cookie on an HTTP
response.  Today the pages read the cookie in the browser (``SessionState.auth_token`` is an
``rx.Cookie``), so it is set without HttpOnly; when password sign-in also moves to an HTTP route,
pass ``http_only=True`` from both and the token leaves the page's reach (see the README).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from lashme.app import account
from lashme.app import session as app_session
from lashme.app.account import SignedIn
from lashme.errors import DomainError

log = logging.getLogger(__name__)

STATE_COOKIE = "lashme_oidc_state"
STATE_PATH = "/auth/google"
CALLBACK_PATH = "/auth/google/callback"
#: message keys a refused sign-in may show on ``/login`` (anything else shows the generic failure)
SHOWN_ERRORS = ("accounts.", "auth.", "security.")


def _https(request: Request) -> bool:
    """Served over https (directly, or behind a proxy whose public address is ``LASHME_PUBLIC_URL``)."""
    return request.url.scheme == "https" or (account.public_url() or "").startswith("https://")


def _base(request: Request) -> str:
    """The site's origin for the callback URL: ``LASHME_PUBLIC_URL``, else the request's own."""
    return (account.public_url() or str(request.base_url)).rstrip("/")


def set_session_cookie(response: Response, signed_in: SignedIn, *, https: bool, http_only: bool = False) -> None:
    """Put a new sign-in session on ``response`` as the :data:`~lashme.app.session.SESSION_COOKIE` cookie.

    Args:
        response: the HTTP response (a redirect, usually).
        signed_in: the session a sign-in use-case started (its token and lifetime in days).
        https: the site is served over https (the cookie is then ``Secure``).
        http_only: hide the cookie from page scripts (for when the pages stop reading it).
    """
    response.set_cookie(
        app_session.SESSION_COOKIE,
        signed_in.token,
        max_age=signed_in.days * 86400,
        path="/",
        secure=https,
        httponly=http_only,
        samesite="lax",
    )


def _caller(request: Request):
    client = request.client.host if request.client else None
    return app_session.caller_for(
        auth_token=None,
        anon_token=request.cookies.get("lashme_anon"),
        locale=request.cookies.get("lashme_locale"),
        accept_language=request.headers.get("accept-language", ""),
        ip=client,
    )


def _to_login(error: str, *, clear_state: bool, https: bool) -> RedirectResponse:
    key = error if error.startswith(SHOWN_ERRORS) else "accounts.google_failed"
    response = RedirectResponse(f"/login?error={quote(key)}", status_code=303)
    if clear_state:
        response.delete_cookie(STATE_COOKIE, path=STATE_PATH, secure=https, httponly=True, samesite="lax")
    return response


async def google_start(request: Request) -> Response:
    """``GET /auth/google/start``: send the browser to Google with a fresh state, nonce and PKCE challenge."""
    https = _https(request)
    next_path = request.query_params.get("next", "/")

    def begin():
        return account.google_begin(
            _caller(request), redirect_uri=_base(request) + CALLBACK_PATH, next_path=next_path
        )

    try:
        url, state = await asyncio.to_thread(begin)
    except DomainError as exc:
        return _to_login(exc.key, clear_state=False, https=https)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        STATE_COOKIE, state, max_age=600, path=STATE_PATH, secure=https, httponly=True, samesite="lax"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def google_callback(request: Request) -> Response:
    """``GET /auth/google/callback``: finish the sign-in, set the session cookie, go to the ``next`` path."""
    https = _https(request)
    q = request.query_params
    old_token = request.cookies.get(app_session.SESSION_COOKIE)

    def finish() -> SignedIn:
        signed_in = account.google_finish(
            _caller(request),
            state=q.get("state"),
            cookie_state=request.cookies.get(STATE_COOKIE),
            code=q.get("code"),
            error=q.get("error"),
            redirect_uri=_base(request) + CALLBACK_PATH,
        )
        if old_token:
            account.sign_out(old_token)  # this browser's previous session, if any, ends here
        return signed_in

    try:
        signed_in = await asyncio.to_thread(finish)
    except DomainError as exc:
        log.info("google sign-in refused: %s", exc.key)
        return _to_login(exc.key, clear_state=True, https=https)
    response = RedirectResponse(account.safe_path(signed_in.next_path), status_code=303)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH, secure=https, httponly=True, samesite="lax")
    set_session_cookie(response, signed_in, https=https)
    response.headers["Cache-Control"] = "no-store"
    return response


ROUTES = [
    Route("/auth/google/start", google_start, methods=["GET"]),
    Route(CALLBACK_PATH, google_callback, methods=["GET"]),
]
