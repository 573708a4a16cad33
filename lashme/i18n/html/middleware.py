"""The ASGI middleware that serves each page in the visitor's language (:class:`LocalizedHtml`).

Only page requests are touched (``GET``/``HEAD`` of a path whose last segment has no file
extension, outside :data:`NOT_PAGES`); for those the request's ``Accept-Encoding`` and
conditional headers are dropped so the static server answers with the plain file, the body is
rewritten (:func:`_rewrite`: the ``lashme.i18n.html`` modules, in order) and gzip-compressed
here when the browser accepts it.  The response says ``Vary: Cookie, Accept-Language`` and
``Cache-Control: no-cache``, and its ``ETag`` and ``Last-Modified`` are removed (they described
the unrewritten file).  Every other request and every non-HTML response passes through
untouched, streaming.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lashme import i18n
from lashme.i18n.html.body_text import BUILD_LOCALE, catalog_script, translate_body
from lashme.i18n.html.first_paint import (
    csp_with_script,
    default_static_dir,
    inline_critical_css,
    prioritize_first_paint,
)
from lashme.i18n.html.head import inject_head, localize_html, mark_session
from lashme.i18n.html.negotiation import COOKIE, COOKIE_MAX_AGE, choose_locale, cookie_value
from lashme.i18n.html.page_titles import PAGE_ROUTES, page_name, page_texts

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The sign-in cookie (``lashme.accounts.auth.SESSION_COOKIE``; i18n imports nothing above it).
SESSION_COOKIE = "lashme_session"
#: Path prefixes that are never pages (backend routes, files, websockets).
NOT_PAGES = ("/_", "/files/", "/dl/", "/stripe/", "/fal/", "/api/", "/auth/", "/healthz", "/readyz", "/ping")
_GZIP_MIN = 1024


def _is_page_request(scope: Scope) -> bool:
    if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
        return False
    path = scope.get("path") or "/"
    if any(path.startswith(prefix) for prefix in NOT_PAGES):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return "." not in last or last.endswith(".html")


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    values = [v.decode("latin-1") for k, v in headers if k.lower() == name]
    return ", ".join(values) if name != b"cookie" else "; ".join(values)


_DROP_REQUEST = {b"accept-encoding", b"if-none-match", b"if-modified-since", b"range", b"if-range"}
_DROP_RESPONSE = {
    b"content-length",
    b"etag",
    b"last-modified",
    b"cache-control",
    b"content-encoding",
    b"vary",
}


class LocalizedHtml:
    """ASGI middleware: rewrites page HTML for the visitor's language (see the module docstring).

    Args:
        app: the ASGI app serving the pages (Reflex's backend with the frontend mounted).
        routes: ``(path regex, page name)`` pairs (default :data:`PAGE_ROUTES`).
        static_dir: the built frontend's folder, where the stylesheet a page links is read for its
            critical rules (default :func:`default_static_dir`; None turns the inlining off).
    """

    def __init__(
        self,
        app: ASGIApp,
        routes: Iterable[tuple[str, str]] = PAGE_ROUTES,
        static_dir: Path | None = None,
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.static_dir = static_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP page requests are rewritten, the rest pass through)."""
        if not _is_page_request(scope):
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers") or [])
        cookies = _header(headers, b"cookie")
        locale = choose_locale(cookies, _header(headers, b"accept-language"))
        page = _PageFacts(
            locale=locale,
            remember=i18n.normalize(cookie_value(cookies, COOKIE)) != locale,
            signed_in=bool(cookie_value(cookies, SESSION_COOKIE)),
        )
        accepts_gzip = "gzip" in _header(headers, b"accept-encoding").lower()
        inner = dict(scope)
        inner["headers"] = [(k, v) for k, v in headers if k.lower() not in _DROP_REQUEST]
        name = page_name(scope.get("path") or "/", self.routes)
        head_only = scope.get("method") == "HEAD"

        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = False

        async def send_wrapper(message: Message) -> None:
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                response_headers = message.get("headers") or []
                content_type = _header(response_headers, b"content-type").lower()
                encoded = _header(response_headers, b"content-encoding")
                if "text/html" not in content_type or encoded:
                    passthrough = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or passthrough or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            shown = "not_found" if start.get("status") == 404 else name
            title, description = page_texts(shown, locale)
            keys = (f"page.{shown}.title", "page.default.title")
            raw = b"".join(chunks)
            new_start, body = await asyncio.to_thread(  # CPU work (first critical CSS of a page: ~0.3 s)
                _rewrite, start, raw, page, title, description, accepts_gzip, keys, self.static_dir
            )
            if head_only:
                new_start["headers"] = [(k, v) for k, v in new_start["headers"] if k != b"content-length"]
                body = b""
            await send(new_start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(inner, receive, send_wrapper)


@dataclass(frozen=True)
class _PageFacts:
    """What the request says about the page to send: its language, and the visitor's cookies."""

    locale: str
    remember: bool  # no (or another) language cookie came: set it to ``locale``
    signed_in: bool  # a sign-in cookie came (not checked here: only the header's first paint uses it)


def _rewrite(
    start: Message,
    raw: bytes,
    page: _PageFacts,
    title: str,
    description: str,
    accepts_gzip: bool,
    title_keys: Iterable[str] = (),
    static_dir: Path | None = None,
) -> tuple[Message, bytes]:
    """The rewritten response start and body (gzip-compressed when accepted and worth it).

    ``title_keys`` are the catalog keys of the page's title: the page's script gets their texts
    too, as the title is rendered by React (its text must hydrate equal to the one written here).
    """
    locale = page.locale
    body = raw
    headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() not in _DROP_RESPONSE]
    if raw:
        text = raw.decode("utf-8", errors="replace")
        text = localize_html(text, locale=locale, title=title, description=description)
        text = mark_session(text, page.signed_in)
        text, used = translate_body(text, source=BUILD_LOCALE, target=locale)
        text = prioritize_first_paint(text, locale)
        scripts: list[str] = []
        if static_dir is not None:
            text, swap = inline_critical_css(text, static_dir)
            scripts += [swap] if swap else []
        if locale != BUILD_LOCALE:
            used |= set(title_keys)
        if used:
            code = catalog_script(locale, used)
            text = inject_head(text, code)
            scripts.append(code)
        for code in scripts:
            headers = [
                (k, csp_with_script(v.decode("latin-1"), code).encode("latin-1"))
                if k.lower() == b"content-security-policy"
                else (k, v)
                for k, v in headers
            ]
        body = text.encode("utf-8")
    if page.remember:
        cookie = f"{COOKIE}={locale}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax"
        headers.append((b"set-cookie", cookie.encode("latin-1")))
    if accepts_gzip and len(body) >= _GZIP_MIN:
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers.append((b"content-encoding", b"gzip"))
    headers += [
        (b"content-language", locale.encode()),
        (b"vary", b"Cookie, Accept-Language, Accept-Encoding"),
        (b"cache-control", b"no-cache"),
        (b"content-length", str(len(body)).encode()),
    ]
    return {**start, "headers": headers}, body


def localized_html(app: ASGIApp) -> LocalizedHtml:
    """``api_transformer`` hook: wrap Reflex's ASGI app in :class:`LocalizedHtml` (critical CSS inlined)."""
    return LocalizedHtml(app, static_dir=default_static_dir())
