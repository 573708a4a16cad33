"""The ASGI wrapper :func:`protect` around everything Reflex serves, and what it does in which order.

Where it sits: ``rx.App(api_transformer=[build_api(), protect])``.  Reflex 0.10
(``reflex/app.py``, ``App.__call__``) mounts its backend (``/_event`` websocket,
``/_upload``, ``/ping``) *and*, in ``--single-port`` prod mode, the compiled
frontend (``reflex.utils.exec.get_frontend_mount``: the static ``.web/build/client``
files, gzip-precompressed) inside one Starlette app; our Starlette routes
(:mod:`lashme.files.files_api`) are mounted in front of it and :func:`protect`
wraps the result, so every page, asset, API response and websocket handshake
passes through it.  Only Reflex's own CORS middleware sits outside; its allowed
origins come from ``rxconfig.py`` (:func:`~lashme.ops.http.origins.cors_origins`).

What it does, in order:

1. **Origins.** A websocket handshake whose ``Origin`` is not the app's own
   is refused (HTTP 403 before the upgrade), and so is any state-changing HTTP
   request (POST, PUT, PATCH, DELETE) sent by a browser from another origin.
   The app's own origin is ``LASHME_PUBLIC_URL`` when set, else the request's
   own ``Host`` (same-origin); in Reflex dev mode the dev frontend
   (``http://localhost:3000``) is allowed too.  Server-to-server calls (Stripe,
   fal webhooks) send no ``Origin`` and pass.
2. **Upload throttle.** ``/_upload`` and any multipart/image request under
   ``/api/`` count against ``throttle.UPLOAD_RATE`` per client IP and per visitor
   token *before* any byte of the body is read (429 with ``Retry-After``).
3. **Body caps.** Uploads may carry ``max_upload_bytes`` + :data:`~lashme.ops.http.limits.UPLOAD_OVERHEAD`
   (multipart boundaries and headers), any other request :data:`~lashme.ops.http.limits.BODY_CAP`.  A
   declared ``Content-Length`` over the cap is answered 413 without reading the
   body; a streamed (chunked) body is cut off at the cap: the application sees a
   client disconnect and the caller gets 413.  Nothing over the cap is read into
   memory or spooled to disk.
4. **Security headers** on every HTTP response (headers a route already set are
   kept): ``Content-Security-Policy`` (see :func:`lashme.ops.http.csp.page_csp`; non-HTML responses
   get ``default-src 'none'``), ``X-Frame-Options: DENY``,
   ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
   ``Permissions-Policy``, ``Cross-Origin-Opener-Policy`` and, behind https only,
   ``Strict-Transport-Security``.

The pieces live beside it: :mod:`~lashme.ops.http.origins` (whose origin is ours),
:mod:`~lashme.ops.http.limits` (caps, what an upload is), :mod:`~lashme.ops.http.csp`
(the headers and the page policy).
"""

from __future__ import annotations

import gzip
import logging
import re
from functools import lru_cache

import anyio
import anyio.to_thread

from lashme import i18n
from lashme.accounts import throttle
from lashme.ops.http.asgi import ASGIApp, Message, Receive, Scope, Send, header
from lashme.ops.http.csp import NON_HTML_CSP, hash_cache, page_csp, script_hashes, security_headers
from lashme.ops.http.limits import BODY_CAP, UPLOAD_OVERHEAD, is_upload
from lashme.ops.http.origins import cors_origins, origin_allowed
from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: largest HTML page whose inline scripts are hashed (bigger pages get the policy without hashes)
MAX_HTML_SCAN = 4 * 1024 * 1024


def _locale(scope: Scope) -> str:
    cookie = header(scope, b"cookie") or ""
    match = re.search(r"(?:^|;\s*)lashme_locale=([A-Za-z_-]{2,10})", cookie)
    return i18n.normalize(match.group(1) if match else None) or i18n.negotiate(
        header(scope, b"accept-language")
    )


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def protect(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` (an ASGI app) with the origin checks, upload throttle, body caps and security headers.

    Usable as a Reflex ``api_transformer`` (a callable taking and returning an ASGI app).
    """

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "websocket":
            origin = header(scope, b"origin")
            if not origin_allowed(origin, scope):
                log.warning("websocket refused: origin %s not allowed", origin)
                await send({"type": "websocket.close", "code": 1008})
                return
            await app(scope, receive, send)
            return
        if kind != "http":
            await app(scope, receive, send)
            return
        await _http(app, scope, receive, send)

    return guarded


async def _http(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    method = scope.get("method", "GET").upper()
    origin = header(scope, b"origin")
    if method in UNSAFE_METHODS and not origin_allowed(origin, scope):
        log.warning("cross-origin %s %s refused (origin %s)", method, scope.get("path"), origin)
        await _send_refusal(scope, send, 403, i18n.translate("security.cross_origin", _locale(scope)))
        return
    upload = is_upload(scope)
    cap = (get_settings().max_upload_bytes + UPLOAD_OVERHEAD) if upload else BODY_CAP
    if upload and method in UNSAFE_METHODS:
        visitor = header(scope, b"reflex-client-token") or header(scope, b"authorization")
        try:
            await anyio.to_thread.run_sync(throttle.upload_attempt, _client_ip(scope), visitor)
        except throttle.Throttled as exc:
            minutes = int(exc.params.get("minutes", 1))
            await _send_refusal(
                scope,
                send,
                429,
                i18n.error_text(exc, _locale(scope)),
                [(b"retry-after", str(minutes * 60).encode())],
            )
            return
    declared = header(scope, b"content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            await _send_refusal(scope, send, 400, "Bad Content-Length")
            return
        if int(declared) > cap:
            await _too_large(scope, send, upload)
            return

    received = 0
    too_large = False
    started = False

    async def capped_receive() -> Message:
        nonlocal received, too_large
        if too_large:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > cap:
                too_large = True
                log.warning("request body over %d bytes cut off: %s %s", cap, method, scope.get("path"))
                return {"type": "http.disconnect"}
        return message

    html_start: Message | None = None
    html_chunks: list[bytes] = []
    html_size = 0
    is_html = False

    async def headed_send(message: Message) -> None:
        nonlocal started, html_start, html_size, is_html
        if too_large and not started:
            return  # the app's answer to a cut-off body is replaced by 413
        if message["type"] == "http.response.start":
            started = True
            headers = list(message.get("headers") or [])
            present = {k.lower() for k, _ in headers}
            ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"").lower()
            if ctype.startswith(b"text/html") and method in ("GET", "HEAD"):
                is_html = True
                etag = next((v for k, v in headers if k.lower() == b"etag"), None)
                encoding = next((v for k, v in headers if k.lower() == b"content-encoding"), b"")
                cache_key = (etag + b"|" + encoding).decode("latin-1") if etag else None
                hashes = hash_cache.get(cache_key)
                if hashes is not None or method == "HEAD":
                    message["headers"] = headers + security_headers(
                        scope, present, page_csp(scope, hashes or [])
                    )
                    await send(message)
                    return
                html_start = {**message, "headers": headers, "_present": present, "_key": cache_key}
                return
            message["headers"] = headers + security_headers(scope, present, NON_HTML_CSP)
            await send(message)
            return
        if is_html and message["type"] == "http.response.pathsend":
            # the server's sendfile extension (granian): pages are read here and sent as bytes, so
            # their scripts can be hashed and middlewares outside this one see an ordinary body
            body = await anyio.Path(message["path"]).read_bytes()
            if html_start is not None:
                await _flush_html(scope, send, html_start, [body], more=False)
                html_start = None
            else:
                await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if html_start is not None and message["type"] == "http.response.body":
            html_chunks.append(message.get("body", b""))
            html_size += len(html_chunks[-1])
            if message.get("more_body", False) and html_size <= MAX_HTML_SCAN:
                return
            await _flush_html(scope, send, html_start, html_chunks, more=message.get("more_body", False))
            html_start = None
            html_chunks.clear()
            return
        await send(message)

    try:
        await app(scope, capped_receive, headed_send)
    except Exception:
        if not too_large or started:
            raise
    if too_large and not started:
        await _too_large(scope, send, upload)


async def _flush_html(scope: Scope, send: Send, start: Message, chunks: list[bytes], *, more: bool) -> None:
    body = b"".join(chunks)
    present, key = start.pop("_present"), start.pop("_key")
    hashes: list[str] = []
    if not more:
        raw = body
        encoding = next((v for k, v in start["headers"] if k.lower() == b"content-encoding"), b"").lower()
        try:
            if encoding == b"gzip":
                raw = gzip.decompress(body)
            hashes = script_hashes(raw) if encoding in (b"", b"identity", b"gzip") else []
        except (OSError, EOFError):
            hashes = []
        hash_cache.put(key, hashes)
    start["headers"] = start["headers"] + security_headers(scope, present, page_csp(scope, hashes))
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def _send_refusal(
    scope: Scope, send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] = ()
) -> None:
    headers = [*extra, *security_headers(scope, set(), NON_HTML_CSP)]
    await _plain(send, status, text, headers)


async def _too_large(scope: Scope, send: Send, upload: bool) -> None:
    locale = _locale(scope)
    if upload:
        text = i18n.translate(
            "security.upload_too_large", locale, max_mb=get_settings().max_upload_bytes // (1024 * 1024)
        )
    else:
        text = i18n.translate("security.body_too_large", locale)
    await _send_refusal(scope, send, 413, text)


@lru_cache(maxsize=1)
def describe() -> dict[str, object]:
    """The caps and rates in force (for logs and the README's figures)."""
    return {
        "upload_cap": get_settings().max_upload_bytes + UPLOAD_OVERHEAD,
        "body_cap": BODY_CAP,
        "upload_rate": throttle.UPLOAD_RATE,
        "cors_origins": cors_origins(),
    }
