"""The security headers of every response, and the page Content-Security-Policy with its inline-script hashes.

The page CSP allows inline scripts by their SHA-256 (CSP Level 2 hashes), which are read from
each HTML page as it is served (gunzipped when precompressed) and cached by ETag
(:data:`hash_cache`), because React Router's prerendered pages carry 9 small inline scripts
(the colour-mode script, scroll restoration, the router context and hydration data, the module
entry) that change with every build.  Sources: https://www.w3.org/TR/CSP3/,
https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import OrderedDict
from urllib.parse import urlsplit

from lashme.ops.http.asgi import Scope, header
from lashme.ops.http.origins import cors_origins, dev_mode, is_https, origin_of
from lashme.ops.settings import get_settings

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
HSTS = "max-age=31536000; includeSubDomains"
#: CSP of anything that is not an HTML page (JSON, images, files): nothing may run or load
NON_HTML_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)


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
    host = urlsplit(get_settings().public_url or "").netloc or header(scope, b"host") or ""
    extra = _extra_origins()
    ws = [f"{'wss' if https else 'ws'}://{host}"] if host else []
    if dev_mode():
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


#: inline-script hashes of the HTML files served so far (key: ETag + content encoding)
hash_cache = _HashCache()


def security_headers(scope: Scope, present: set[bytes], csp: str) -> list[tuple[bytes, bytes]]:
    """The security headers, ``csp`` the policy, that a response lacks (``present``: its header names)."""
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
