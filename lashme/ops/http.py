"""HTTP hardening of the backend: one ASGI wrapper, :func:`protect`, around everything Reflex serves.

Where it sits: ``rx.App(api_transformer=[build_api(), protect])``.  Reflex 0.10
(``reflex/app.py``, ``App.__call__``) mounts its backend (``/_event`` websocket,
``/_upload``, ``/ping``) *and*, in ``--single-port`` prod mode, the compiled
frontend (``reflex.utils.exec.get_frontend_mount``: the static ``.web/build/client``
files, gzip-precompressed) inside one Starlette app; our Starlette routes
(:mod:`lashme.files.files_api`) are mounted in front of it and :func:`protect`
wraps the result, so every page, asset, API response and websocket handshake
passes through it.  Only Reflex's own CORS middleware sits outside; its allowed
origins come from ``rxconfig.py`` (:func:`cors_origins`).

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
3. **Body caps.** Uploads may carry ``max_upload_bytes`` + :data:`UPLOAD_OVERHEAD`
   (multipart boundaries and headers), any other request :data:`BODY_CAP`.  A
   declared ``Content-Length`` over the cap is answered 413 without reading the
   body; a streamed (chunked) body is cut off at the cap: the application sees a
   client disconnect and the caller gets 413.  Nothing over the cap is read into
   memory or spooled to disk.
4. **Security headers** on every HTTP response (headers a route already set are
   kept): ``Content-Security-Policy`` (see :func:`page_csp`; non-HTML responses
   get ``default-src 'none'``), ``X-Frame-Options: DENY``,
   ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
   ``Permissions-Policy``, ``Cross-Origin-Opener-Policy`` and, behind https only,
   ``Strict-Transport-Security``.

The page CSP allows inline scripts by their SHA-256 (CSP Level 2 hashes), which
are read from each HTML page as it is served (gunzipped when precompressed) and
cached by ETag, because React Router's prerendered pages carry 9 small inline
scripts (the colour-mode script, scroll restoration, the router context and
hydration data, the module entry) that change with every build.  Sources:
https://www.w3.org/TR/CSP3/, https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from lashme import i18n
from lashme.accounts import throttle
from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: bytes a multipart upload may carry beyond the photo itself (boundaries, part headers, event args)
UPLOAD_OVERHEAD = 64 * 1024
#: bytes any other request body may carry (JSON, webhooks)
BODY_CAP = 1024 * 1024
#: exact paths that take photo uploads (Reflex's upload endpoint)
UPLOAD_PATHS = frozenset({"/_upload"})
#: path prefixes where a multipart or image body counts as an upload (the REST API)
UPLOAD_PREFIXES = ("/api/",)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: largest HTML page whose inline scripts are hashed (bigger pages get the policy without hashes)
MAX_HTML_SCAN = 4 * 1024 * 1024

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
HSTS = "max-age=31536000; includeSubDomains"
#: CSP of anything that is not an HTML page (JSON, images, files): nothing may run or load
NON_HTML_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of ``url`` (lower-case), or None when it has no scheme and host."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _dev_mode() -> bool:
    return os.environ.get("REFLEX_ENV_MODE", "dev").lower() != "prod"


def cors_origins() -> list[str]:
    """Origins allowed to make credentialed cross-origin requests (``rxconfig.cors_allowed_origins``).

    ``LASHME_PUBLIC_URL``'s origin when set, plus, in Reflex dev mode, the dev frontend
    (``REFLEX_DEPLOY_URL``, default ``http://localhost:3000``), whose pages talk to the
    backend on another port.  Empty otherwise: the app is then same-origin only, and the
    Origin checks of :func:`protect` compare with the request's ``Host``.
    """
    found = []
    public = origin_of(get_settings().public_url)
    if public:
        found.append(public)
    if _dev_mode():
        dev = origin_of(os.environ.get("REFLEX_DEPLOY_URL") or "http://localhost:3000")
        if dev and dev not in found:
            found.append(dev)
    return found


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def is_https(scope: Scope) -> bool:
    """True when the browser reached us over https (directly or through a proxy's ``X-Forwarded-Proto``)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    forwarded = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
    if forwarded == "https":
        return True
    public = get_settings().public_url or ""
    return public.startswith("https://") and _header(scope, b"host") == urlsplit(public).netloc


def origin_allowed(origin: str | None, scope: Scope) -> bool:
    """Whether a browser request with ``Origin: origin`` comes from the app itself.

    No ``Origin`` (a non-browser client or a same-origin GET) is allowed; ``null`` is not.
    With ``LASHME_PUBLIC_URL`` set only that origin (and the dev frontend in dev mode)
    counts; without it the origin's host must equal the request's ``Host`` header
    (compared without the scheme, which a TLS-terminating proxy changes).
    """
    if origin is None:
        return True
    own = cors_origins()
    normalized = origin_of(origin)
    if normalized is None:
        return False
    if normalized in own:
        return True
    if get_settings().public_url:
        return False
    host = (_header(scope, b"host") or "").lower()
    return bool(host) and urlsplit(normalized).netloc == host


def _locale(scope: Scope) -> str:
    cookie = _header(scope, b"cookie") or ""
    match = re.search(r"(?:^|;\s*)lashme_locale=([A-Za-z_-]{2,10})", cookie)
    return i18n.normalize(match.group(1) if match else None) or i18n.negotiate(
        _header(scope, b"accept-language")
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


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions (``'sha256-…'``) of every inline ``<script>`` in ``html``, in order, unique."""
    found: list[str] = []
    for match in _INLINE_SCRIPT.finditer(html):
        digest = base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode()
        source = f"'sha256-{digest}'"
        if source not in found:
            found.append(source)
    return found


def _extra_origins() -> list[str]:
    s = get_settings()
    found = []
    for url in (s.s3_public_endpoint_url, s.s3_endpoint_url):
        origin = origin_of(url)
        if origin and origin not in found:
            found.append(origin)
    return found


def page_csp(scope: Scope, hashes: list[str]) -> str:
    """The Content-Security-Policy of an HTML page.

    Directives and why (Reflex 0.10 + React Router 7 prerendered pages):

    - ``default-src 'self'``: anything not named below loads from our origin only.
    - ``script-src 'self' 'unsafe-eval' <hashes>``: the bundles are same-origin files;
      the prerendered inline scripts are allowed by hash, never by ``'unsafe-inline'``.
      ``'unsafe-eval'`` is needed because Reflex runs JavaScript sent by *our* backend over
      the websocket with ``eval()`` (``utils/state.js``: ``_call_function``/``_call_script``:
      every ``rx.toast``, ``rx.call_script`` and ``rx.download``); injected markup still
      cannot run script, and only our backend can send those events.
    - ``style-src 'self' 'unsafe-inline'``: Emotion (Reflex's CSS-in-JS) writes ``<style>``
      elements at run time, and Radix sets ``style`` attributes; styles cannot run script.
    - ``img-src 'self' data: blob:`` (+ the S3 endpoint when configured): previews, icons,
      signed storage URLs.
    - ``font-src 'self' data:``; ``connect-src 'self'`` plus the websocket URL
      (``ws(s)://host``, the state channel) and the S3 endpoint.
    - ``object-src 'none'``, ``base-uri 'self'``, ``form-action 'self'``,
      ``frame-src 'none'``, ``frame-ancestors 'none'`` (no clickjacking of the unlock and
      buy buttons; ``X-Frame-Options: DENY`` says the same to old browsers),
      ``worker-src 'self' blob:``, ``manifest-src 'self'``.
    - ``upgrade-insecure-requests`` behind https.
    """
    https = is_https(scope)
    host = urlsplit(get_settings().public_url or "").netloc or _header(scope, b"host") or ""
    extra = _extra_origins()
    ws = [f"{'wss' if https else 'ws'}://{host}"] if host else []
    if _dev_mode():
        ws += [o.replace("http", "ws", 1) for o in cors_origins() if o.startswith("http")]
        ws += cors_origins()
    directives = [
        "default-src 'self'",
        " ".join(["script-src 'self' 'unsafe-eval'", *hashes]),
        "style-src 'self' 'unsafe-inline'",
        " ".join(["img-src 'self' data: blob:", *extra]),
        "font-src 'self' data:",
        " ".join(["connect-src 'self'", *ws, *extra]),
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-src 'none'",
        "frame-ancestors 'none'",
        "worker-src 'self' blob:",
        "manifest-src 'self'",
    ]
    if https:
        directives.append("upgrade-insecure-requests")
    return "; ".join(directives)


class _HashCache:
    """Inline-script hashes per served HTML file (key: ETag + encoding), least recently used out."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.data: OrderedDict[str, list[str]] = OrderedDict()

    def get(self, key: str | None) -> list[str] | None:
        if key is None or key not in self.data:
            return None
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key: str | None, value: list[str]) -> None:
        if key is None:
            return
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)


_hash_cache = _HashCache()


def _security_headers(scope: Scope, present: set[bytes], csp: str) -> list[tuple[bytes, bytes]]:
    wanted = [
        (b"content-security-policy", csp),
        (b"x-frame-options", "DENY"),
        (b"x-content-type-options", "nosniff"),
        (b"referrer-policy", "strict-origin-when-cross-origin"),
        (b"permissions-policy", PERMISSIONS_POLICY),
        (b"cross-origin-opener-policy", "same-origin"),
    ]
    if is_https(scope):
        wanted.append((b"strict-transport-security", HSTS))
    return [(name, value.encode()) for name, value in wanted if name not in present]


def _is_upload(scope: Scope) -> bool:
    path = scope.get("path", "")
    if path in UPLOAD_PATHS:
        return True
    if path.startswith(UPLOAD_PREFIXES):
        ctype = (_header(scope, b"content-type") or "").lower()
        return ctype.startswith(("multipart/", "image/", "application/octet-stream"))
    return False


class _TooLarge(Exception):
    """The request body passed its cap."""


def protect(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` (an ASGI app) with the origin checks, upload throttle, body caps and security headers.

    Usable as a Reflex ``api_transformer`` (a callable taking and returning an ASGI app).
    """

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "websocket":
            origin = _header(scope, b"origin")
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
    origin = _header(scope, b"origin")
    if method in UNSAFE_METHODS and not origin_allowed(origin, scope):
        log.warning("cross-origin %s %s refused (origin %s)", method, scope.get("path"), origin)
        await _send_refusal(scope, send, 403, i18n.translate("security.cross_origin", _locale(scope)))
        return
    upload = _is_upload(scope)
    cap = (get_settings().max_upload_bytes + UPLOAD_OVERHEAD) if upload else BODY_CAP
    if upload and method in UNSAFE_METHODS:
        visitor = _header(scope, b"reflex-client-token") or _header(scope, b"authorization")
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
    declared = _header(scope, b"content-length")
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
                hashes = _hash_cache.get(cache_key)
                if hashes is not None or method == "HEAD":
                    message["headers"] = headers + _security_headers(
                        scope, present, page_csp(scope, hashes or [])
                    )
                    await send(message)
                    return
                html_start = {**message, "headers": headers, "_present": present, "_key": cache_key}
                return
            message["headers"] = headers + _security_headers(scope, present, NON_HTML_CSP)
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
        _hash_cache.put(key, hashes)
    start["headers"] = start["headers"] + _security_headers(scope, present, page_csp(scope, hashes))
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def _send_refusal(
    scope: Scope, send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] = ()
) -> None:
    headers = [*extra, *_security_headers(scope, set(), NON_HTML_CSP)]
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
