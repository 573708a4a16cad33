"""Sign-in over plain HTTP routes on the backend: the HttpOnly session cookie and who may set it.

Mounted in ``lashme/lashme.py`` beside the file and webhook routes.  Only these routes ever put a
sign-in session into a cookie, and they set it ``HttpOnly; SameSite=Lax`` (plus ``Secure`` behind
https): page scripts cannot read it (``document.cookie`` never shows it), and the token never
enters a Reflex state var.  The pages' websocket learns who is signed in from the ``Cookie`` header
of its handshake (:meth:`lashme.ui.state.SessionState._session_token`), so every route here ends
with a full page load, whose fresh websocket carries the new cookie.

Password forms (``POST``, ``application/x-www-form-urlencoded``; the pages send them with
``fetch`` and ``Accept: application/json``, a form posted without script gets a 303 redirect):

- ``POST /auth/sign-in`` (``email``, ``password``, ``next``) — :func:`lashme.app.account.sign_in`
  with the client's IP for its throttles.
- ``POST /auth/sign-up`` (``email``, ``password``, ``next``) — :func:`lashme.app.account.sign_up`.
- ``POST /auth/reset-password`` (``token``, ``password``) — :func:`lashme.app.recovery.reset_password`.
- ``POST /auth/sign-out`` — ends this browser's session and clears the cookie.

Each answers ``{"next": "/path"}`` (a same-site path; the page then loads it) or
``{"error": "<message key>", "params": {...}}`` (the page shows the message in the user's
language; 429 with ``Retry-After`` for a throttle).  Without ``Accept: application/json`` the
answer is a 303 to the ``next`` path or back to the form with ``?error=<message key>``.

Session rotation: every sign-in starts a new session (a new random id) and ends the one the
browser sent, if any; a role change ends all of the account's sessions
(:func:`lashme.app.admin.accounts.set_role`), as do a block and a password reset.

CSRF: the :func:`lashme.ops.http.guard.protect` middleware refuses a POST whose ``Origin`` is another
site; these routes also refuse a POST that carries no ``Origin`` at all (every browser sends one
with a POST), and ``SameSite=Lax`` keeps the cookie off cross-site POSTs.

"Sign in with Google" (OpenID Connect):

- ``GET /auth/google/start?next=/path`` — asks :func:`lashme.app.account.google_begin` for the
  provider's URL, keeps the OAuth ``state`` in an HttpOnly cookie (:data:`STATE_COOKIE`,
  10 minutes, only sent to ``/auth/google``) and redirects (303) the browser to Google.
- ``GET /auth/google/callback?state=&code=`` — :func:`lashme.app.account.google_finish` checks
  the cookie's state against the query's, verifies the ID token and signs in; the route then
  sets the sign-in cookie with :func:`set_session_cookie` and redirects to the ``next`` path.
  Any refusal redirects to ``/login?error=<message key>`` (the sign-in page shows it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from lashme.app import account, recovery
from lashme.app import session as app_session
from lashme.app.account import SignedIn
from lashme.app.caller import Caller
from lashme.errors import DomainError, Throttled

log = logging.getLogger(__name__)

STATE_COOKIE = "lashme_oidc_state"
STATE_PATH = "/auth/google"
CALLBACK_PATH = "/auth/google/callback"
#: message keys a refused sign-in may show on ``/login`` (anything else shows the generic failure)
SHOWN_ERRORS = ("accounts.", "auth.", "security.")


def _https(request: Request) -> bool:
    """Served over https (directly, through a proxy's ``X-Forwarded-Proto``, or ``LASHME_PUBLIC_URL`` says so)."""
    return (
        request.url.scheme == "https"
        or app_session.request_is_https(request.scope)
        or (account.public_url() or "").startswith("https://")
    )


def _base(request: Request) -> str:
    """The site's origin for the callback URL: ``LASHME_PUBLIC_URL``, else the request's own."""
    return (account.public_url() or str(request.base_url)).rstrip("/")


def set_session_cookie(
    response: Response, signed_in: SignedIn, *, https: bool, http_only: bool = True
) -> None:
    """Put a new sign-in session on ``response`` as the :data:`~lashme.app.session.SESSION_COOKIE` cookie.

    ``HttpOnly`` and ``SameSite=Lax`` (RFC 6265bis): page scripts never see the token, and the
    browser leaves it off cross-site subrequests and POSTs.

    Args:
        response: the HTTP response (a redirect or the JSON answer of a form post).
        signed_in: the session a sign-in use-case started (its token and lifetime in days).
        https: the site is served over https (the cookie is then ``Secure``).
        http_only: hide the cookie from page scripts (always, since the pages read the session
            from their websocket handshake; False only for a test of the flag itself).
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


SIGN_IN_PATH = "/auth/sign-in"
SIGN_UP_PATH = "/auth/sign-up"
SIGN_OUT_PATH = "/auth/sign-out"
RESET_PATH = "/auth/reset-password"
#: where a password sign-in or sign-up goes when the form names no ``next`` path; after a reset
AFTER_RESET = "/dashboard"
#: the fields a password route reads (anything else in the body is ignored)
_FIELDS = ("email", "password", "next", "token")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "").lower()


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


async def _fields(request: Request) -> dict[str, str]:
    """The form's text fields (the first value of each in :data:`_FIELDS`, each at most 512 characters)."""
    try:
        form = await request.form(max_files=0, max_fields=len(_FIELDS) + 8, max_part_size=4096)
    except (HTTPException, MultiPartException):
        return {}
    try:
        return {k: v[:512] for k in _FIELDS if isinstance(v := form.get(k), str)}
    finally:
        await form.close()


def _origin_refused(request: Request) -> DomainError | None:
    """Login CSRF guard: a browser POST always names its ``Origin``; it must be the app's own."""
    origin = request.headers.get("origin")
    if origin is None or not app_session.request_origin_allowed(origin, request.scope):
        log.warning("%s refused: origin %s", request.url.path, origin)
        return DomainError("security.cross_origin")
    return None


def _refused(
    request: Request, exc: DomainError, *, back_to: str, status: int = 400, **query: str
) -> Response:
    """A refusal: ``{"error": key, "params": …}`` for the page's fetch, else a 303 back to the form page."""
    params = {
        k: v
        for k, v in getattr(exc, "params", {}).items()
        if isinstance(v, int | str) and not isinstance(v, bool)
    }
    headers = {}
    if isinstance(exc, Throttled):
        status = 429
        headers["Retry-After"] = str(max(1, int(params.get("minutes", 1))) * 60)
    if _wants_json(request):
        return _no_store(
            JSONResponse({"error": exc.key, "params": params}, status_code=status, headers=headers)
        )
    wanted = {"error": exc.key, **{k: v for k, v in query.items() if v and v != "/"}}
    return _no_store(RedirectResponse(f"{back_to}?{urlencode(wanted)}", status_code=303, headers=headers))


def _to_next(request: Request, next_path: str) -> Response:
    if _wants_json(request):
        return _no_store(JSONResponse({"next": next_path}))
    return _no_store(RedirectResponse(next_path, status_code=303))


async def _password_route(
    request: Request,
    work: Callable[[Caller, dict[str, str]], SignedIn],
    *,
    back_to: str,
    default_next: str = "/",
) -> Response:
    """Run a sign-in use-case on the posted form; set the new session's cookie, end the browser's old one."""
    refused = _origin_refused(request)
    if refused is not None:
        return _refused(request, refused, back_to=back_to, status=403)
    fields = await _fields(request)
    next_path = account.safe_path(fields.get("next") or default_next)
    old_token = request.cookies.get(app_session.SESSION_COOKIE)

    def run() -> SignedIn:
        signed_in = work(_caller(request), fields)
        if old_token and old_token != signed_in.token:
            account.sign_out(old_token)  # rotation: this browser's previous session id stops working
        return signed_in

    try:
        signed_in = await asyncio.to_thread(run)
    except DomainError as exc:
        return _refused(request, exc, back_to=back_to, next=next_path, token=fields.get("token", ""))
    response = _to_next(request, next_path)
    set_session_cookie(response, signed_in, https=_https(request))
    return response


async def sign_in(request: Request) -> Response:
    """``POST /auth/sign-in``: email + password → a new session in the HttpOnly cookie (throttled per account and IP)."""
    return await _password_route(
        request,
        lambda caller, f: account.sign_in(caller, email=f.get("email", ""), password=f.get("password", "")),
        back_to="/login",
    )


async def sign_up(request: Request) -> Response:
    """``POST /auth/sign-up``: a new account, signed in at once (throttled per IP); the link goes out by mail."""
    origin = _base(request)
    return await _password_route(
        request,
        lambda caller, f: account.sign_up(
            caller, email=f.get("email", ""), password=f.get("password", ""), origin=origin
        ),
        back_to="/signup",
    )


async def reset_password(request: Request) -> Response:
    """``POST /auth/reset-password``: spend a reset link (``token``) with the new password; signs in."""
    return await _password_route(
        request,
        lambda caller, f: recovery.reset_password(caller, f.get("token", ""), f.get("password", "")),
        back_to="/reset-password",
        default_next=AFTER_RESET,
    )


async def sign_out(request: Request) -> Response:
    """``POST /auth/sign-out``: end the browser's session on the server and clear its cookie."""
    refused = _origin_refused(request)
    if refused is not None:
        return _refused(request, refused, back_to="/", status=403)
    token = request.cookies.get(app_session.SESSION_COOKIE)
    if token:
        await asyncio.to_thread(account.sign_out, token)
    response = _to_next(request, "/")
    response.delete_cookie(
        app_session.SESSION_COOKIE, path="/", secure=_https(request), httponly=True, samesite="lax"
    )
    return response


ROUTES = [
    Route("/auth/google/start", google_start, methods=["GET"]),
    Route(CALLBACK_PATH, google_callback, methods=["GET"]),
    Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
    Route(SIGN_UP_PATH, sign_up, methods=["POST"]),
    Route(RESET_PATH, reset_password, methods=["POST"]),
    Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
]
