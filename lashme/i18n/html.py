"""Server-side language of the statically built pages: ``<html lang>``, ``<title>``, meta description.

Reflex compiles every page to one static HTML file at build time, in one language.  This pure
ASGI middleware (no Reflex import) rewrites those three things in each page response for the
visitor's language, so the first paint, screen readers, search engines and link previews get the
right language before any JavaScript runs:

1. the language cookie ``lashme_locale`` (set by the language switch; a signed-in user's saved
   language is written to it when a page loads), else
2. the ``Accept-Language`` header (RFC 9110 §12.5.4, weights honoured), else
3. Russian (:data:`FALLBACK`), the first language of our users.

Only page requests are touched (``GET``/``HEAD`` of a path whose last segment has no file
extension, outside the API prefixes); for those the request's ``Accept-Encoding`` and
conditional headers are dropped so the static server answers with the plain file, the body is
rewritten and gzip-compressed here when the browser accepts it.  The response says
``Vary: Cookie, Accept-Language`` and ``Cache-Control: no-cache``, and its ``ETag`` and
``Last-Modified`` are removed (they described the unrewritten file).  Every other request and
every non-HTML response passes through untouched, streaming.

Titles come from the catalogs (``page.<name>.title``, ``page.<name>.description`` with
``page.default.*`` as fallbacks), picked by the request path through :data:`PAGE_ROUTES`.

No first paint in the wrong language: the pages are prerendered in :data:`BUILD_LOCALE` (Russian,
the state's default).  For a visitor of another language the middleware also

* translates the body's text nodes and its ``aria-label``/``placeholder``/``title``/``alt``
  attributes from the build language's catalog texts to the visitor's (:func:`translate_body`),
  and the few state-made texts prerendered from the state's defaults (:func:`prerendered_texts`),
* puts the catalog entries it used into ``globalThis.__lmT`` with an inline script before the
  page's modules, which ``lashme.ui.i18n.tr`` reads until the session state arrives, so React's
  hydration renders the same words the HTML showed, and
* when the request had no language cookie, sets one with the chosen language, so the
  websocket's first state already carries it.

A slow phone's first paint (:func:`prioritize_first_paint`, :func:`inline_critical_css`): the
page's own font subset is preloaded, the rules of the app's stylesheet that the page can use are
inlined (:mod:`lashme.i18n.critical_css`) and the stylesheet itself loads without blocking the
paint, ahead of the scripts.

``<html data-lm-auth>`` says whether the request carried a sign-in cookie (``1``/``0``): until the
session is known the header shows the visitor's buttons only when there is none
(``assets/theme.css``), and a neutral skeleton otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import html
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from lashme import i18n
from lashme.i18n.critical_css import critical_css

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The language when neither the cookie nor ``Accept-Language`` names a supported one.
FALLBACK = i18n.DEFAULT_LOCALE
#: The language the pages are prerendered in (the frontend state's default ``locale``).
BUILD_LOCALE = i18n.DEFAULT_LOCALE
COOKIE = "lashme_locale"
#: The sign-in cookie (``lashme.accounts.auth.SESSION_COOKIE``; i18n imports nothing above it).
SESSION_COOKIE = "lashme_session"
#: ``max-age`` of the language cookie the middleware sets (a year, as the language switch's).
COOKIE_MAX_AGE = 365 * 86400
#: Path prefixes that are never pages (backend routes, files, websockets).
NOT_PAGES = ("/_", "/files/", "/dl/", "/stripe/", "/fal/", "/api/", "/auth/", "/healthz", "/readyz", "/ping")
#: ``(path regex, page name)``, first match wins; the name picks ``page.<name>.title``.
PAGE_ROUTES: tuple[tuple[str, str], ...] = (
    (r"/", "landing"),
    (r"/upload", "upload"),
    (r"/job/[^/]+", "job"),
    (r"/variant/[^/]+", "variant"),
    (r"/gallery", "gallery"),
    (r"/dashboard", "dashboard"),
    (r"/credits/success", "payment"),
    (r"/credits", "credits"),
    (r"/login", "login"),
    (r"/signup", "signup"),
    (r"/forgot-password", "forgot"),
    (r"/reset-password", "reset"),
    (r"/verify-email", "verify"),
    (r"/account", "account"),
    (r"/admin/users/[^/]+", "admin_user_detail"),
    (r"/admin/users", "admin_users"),
    (r"/admin/jobs/[^/]+", "admin_job_detail"),
    (r"/admin/jobs", "admin_jobs"),
    (r"/admin/presets", "admin_presets"),
    (r"/admin/pricing", "admin_pricing"),
    (r"/admin/payments", "admin_payments"),
    (r"/admin/stats", "admin_stats"),
    (r"/admin/audit", "admin_audit"),
    (r"/admin/queue", "admin_queue"),
    (r"/admin(/.*)?", "admin"),
    (r"/terms", "terms"),
    (r"/privacy", "privacy"),
    (r"/contacts", "contacts"),
    (r"/404(\.html)?", "not_found"),
)
_GZIP_MIN = 1024
#: The sign-up bonus the pages are prerendered with: ``lashme.ui.state.SessionState.signup_bonus``'s
#: default (a unit test keeps the two equal).
PRERENDER_SIGNUP_BONUS = 3


def prerendered_texts(locale: str) -> dict[str, str]:
    """The state-made texts the pages are prerendered with, in ``locale``, by pseudo key (``=name``).

    Some first-paint texts are not catalog messages but state vars computed from defaults (the
    badge "3 фото бесплатно при регистрации": a plural with the sign-up bonus).  The build
    renders them in :data:`BUILD_LOCALE`; these are the same texts in ``locale``, so
    :func:`translate_body` can swap them like catalog texts, and the page (``lashme.ui.i18n.early``
    names the same pseudo keys) hydrates with them.

    Returns:
        ``{"=landing.badge": "3 free photos on sign-up", ...}`` (plain text, no placeholders).
    """
    bonus = PRERENDER_SIGNUP_BONUS
    free = i18n.translate_plural("plural.free_credits", bonus, locale)
    return {
        "=landing.badge": i18n.translate_plural("landing.badge", bonus, locale),
        "=landing.start_credits": i18n.translate_plural("plural.credits", bonus, locale),
        "=auth.signup_subtitle": i18n.translate("auth.signup_subtitle", locale, bonus=free),
    }


def _texts(locale: str) -> dict[str, str]:
    """The catalog of ``locale`` with :func:`prerendered_texts` added."""
    return {**i18n.catalog(locale), **prerendered_texts(locale)}


def choose_locale(cookie_header: str | None, accept_language: str | None) -> str:
    """The page language: the ``lashme_locale`` cookie, else ``Accept-Language``, else :data:`FALLBACK`.

    Args:
        cookie_header: the raw ``Cookie`` request header (may be None or malformed).
        accept_language: the raw ``Accept-Language`` header.

    Returns:
        A supported locale code (``"ru"`` or ``"en"``).
    """
    if cookie_header:
        jar = SimpleCookie()
        try:
            jar.load(cookie_header)
        except CookieError:
            jar = SimpleCookie()
        morsel = jar.get(COOKIE)
        found = i18n.normalize(morsel.value) if morsel is not None else None
        if found:
            return found
    return _accepted(accept_language) or FALLBACK


def _accepted(accept_language: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (q-weighted, ties in order), or None."""
    ranked: list[tuple[float, int, str]] = []
    for pos, part in enumerate((accept_language or "").split(",")):
        tag, *params = part.strip().split(";")
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found = i18n.normalize(tag)
        if found and q > 0:
            ranked.append((-q, pos, found))
    return min(ranked)[2] if ranked else None
    return FALLBACK


def page_name(path: str, routes: Iterable[tuple[str, str]] = PAGE_ROUTES) -> str:
    """The page name for a request path (``"/job/abc"`` → ``"job"``), ``"default"`` when unknown."""
    path = "/" + path.strip("/")
    for pattern, name in routes:
        if re.fullmatch(pattern, path):
            return name
    return "default"


def page_texts(name: str, locale: str) -> tuple[str, str]:
    """``(title, description)`` of page ``name`` in ``locale`` (``page.default.*`` fills gaps)."""
    table = i18n.catalog(locale)
    title = table.get(f"page.{name}.title") or table.get("page.default.title") or "LashMe"
    description = table.get(f"page.{name}.description") or table.get("page.default.description") or ""
    return title, description


_HTML_TAG = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_LANG_ATTR = re.compile(r"""\slang\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.IGNORECASE | re.DOTALL)
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def _meta_pattern(attr: str, value: str) -> re.Pattern[str]:
    return re.compile(rf"""<meta\b(?=[^>]*\b{attr}\s*=\s*["']{re.escape(value)}["'])[^>]*>""", re.IGNORECASE)


_META_DESCRIPTION = _meta_pattern("name", "description")
_META_OG_TITLE = _meta_pattern("property", "og:title")
_META_OG_DESCRIPTION = _meta_pattern("property", "og:description")


def localize_html(document: str, *, locale: str, title: str, description: str) -> str:
    """``document`` with ``<html lang>``, the ``<title>``s and the description metas set.

    Every ``<title>`` is replaced (React may render one in the body as well as the head); a missing
    title or description is added at the start of ``<head>``.  Open Graph title/description metas
    are updated when present.

    Args:
        document: an HTML page.
        locale: BCP 47 language code for ``lang``.
        title: plain text (escaped here).
        description: plain text (escaped here).
    """
    lang = html.escape(locale, quote=True)

    def set_lang(match: re.Match[str]) -> str:
        tag = _LANG_ATTR.sub("", match.group(0))
        return tag[:5] + f' lang="{lang}"' + tag[5:]

    out, n_html = _HTML_TAG.subn(set_lang, document, count=1)
    title_tag = f"<title>{html.escape(title, quote=False)}</title>"
    out, n_title = _TITLE.subn(lambda _: title_tag, out)
    desc = html.escape(description, quote=True)
    meta_desc = f'<meta name="description" content="{desc}"/>'
    out, n_desc = _META_DESCRIPTION.subn(lambda _: meta_desc, out)
    out = _META_OG_TITLE.sub(lambda _: f'<meta property="og:title" content="{html.escape(title)}"/>', out)
    out = _META_OG_DESCRIPTION.sub(lambda _: f'<meta property="og:description" content="{desc}"/>', out)
    missing = ("" if n_title else title_tag) + ("" if n_desc or not description else meta_desc)
    if missing:
        head = _HEAD_OPEN.search(out)
        if head is not None:
            out = out[: head.end()] + missing + out[head.end() :]
        elif n_html:
            tag = _HTML_TAG.search(out)
            assert tag is not None
            out = out[: tag.end()] + "<head>" + missing + "</head>" + out[tag.end() :]
    return out


_RAW_BLOCK = re.compile(r"<(script|style|title|textarea)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TEXT_NODE = re.compile(r">([^<]+)<")
_TEXT_ATTR = re.compile(r"""(\s(?:aria-label|placeholder|title|alt)=")([^"]*)(")""", re.IGNORECASE)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@lru_cache(maxsize=8)
def text_map(source: str, target: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``{text in source: (text in target, keys)}`` over the catalog texts and :func:`prerendered_texts`.

    Templates (texts with ``{placeholders}``) are left out: they reach a page filled in by the
    server, never verbatim.  When two keys share a source text and the same target text, both keys
    are listed (so the page's script carries both).  When their target texts differ ("Регистрация"
    is both "Sign up" and "Signed up"), the text is left out: the HTML cannot say which key it
    shows, and a guess that differs from what React renders for that key is a hydration mismatch,
    which makes React re-render the whole document.  Such a text would stay in the build language
    until the session state arrives, so the catalogs keep shared texts unambiguous (a unit test
    checks it, ``tests/unit/test_html_lang.py``).
    """
    src, dst = _texts(source), _texts(target)
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    ambiguous: set[str] = set()
    for key, raw in src.items():
        # keyed by the trimmed text, as :func:`translate_body` looks texts up ("Доступно: " and
        # "Доступно:" are one text to it; the page's own spaces are kept around the swap)
        text, target = raw.strip(), (dst.get(key) or "").strip()
        if not text or "{" in text or not target:  # a key missing from the target catalog: left alone
            continue
        found = out.get(text)
        if found is not None and found[0] != target:
            ambiguous.add(text)
        out[text] = (target, (key,)) if found is None else (found[0], (*found[1], key))
    for text in ambiguous:
        del out[text]
    return out


def translate_body(document: str, *, source: str, target: str) -> tuple[str, set[str]]:
    """``document`` with the ``<body>``'s catalog texts in ``target`` instead of ``source``.

    Text nodes and the ``aria-label``/``placeholder``/``title``/``alt`` attributes whose whole
    (whitespace-trimmed) text is a catalog message are replaced; ``<script>``, ``<style>``,
    ``<title>`` and ``<textarea>`` contents are left alone.

    Returns:
        ``(document, keys)``: the rewritten page and the message keys whose text it replaced.
    """
    if source == target:
        return document, set()
    table = text_map(source, target)
    used: set[str] = set()

    def swap(raw: str) -> str:
        text = html.unescape(raw)
        stripped = text.strip()
        found = table.get(stripped)
        if found is None:
            return raw
        used.update(found[1])
        lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
        return html.escape(lead + found[0] + trail, quote=True)

    def rewrite(segment: str) -> str:
        segment = _TEXT_NODE.sub(lambda m: ">" + swap(m.group(1)) + "<", segment)
        return _TEXT_ATTR.sub(lambda m: m.group(1) + swap(m.group(2)) + m.group(3), segment)

    body = _BODY_OPEN.search(document)
    start = body.end() if body is not None else 0
    parts, pos = [document[:start]], start
    for block in _RAW_BLOCK.finditer(document, start):
        parts += [rewrite(document[pos : block.start()]), block.group(0)]
        pos = block.end()
    parts.append(rewrite(document[pos:]))
    return "".join(parts), used


def catalog_script(locale: str, keys: Iterable[str]) -> str:
    """The inline script's code: ``globalThis.__lmT`` = the texts of ``keys`` in ``locale`` (JSON)."""
    table = _texts(locale)
    data = json.dumps({k: table[k] for k in sorted(keys) if k in table}, ensure_ascii=False)
    return f"globalThis.__lmT={data.replace('<', chr(92) + 'u003c')};"


def mark_session(document: str, signed_in: bool) -> str:
    """``document`` with ``<html data-lm-auth="1">`` when a sign-in cookie came, else ``"0"``."""
    flag = "1" if signed_in else "0"

    def set_flag(match: re.Match[str]) -> str:
        tag = re.sub(r"""\sdata-lm-auth\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", "", match.group(0))
        end = len(tag) - (2 if tag.endswith("/>") else 1)
        return tag[:end] + f' data-lm-auth="{flag}"' + tag[end:]

    return _HTML_TAG.sub(set_flag, document, count=1)


_HEAD_CLOSE = re.compile(r"</head\s*>", re.IGNORECASE)


def inject_head(document: str, code: str) -> str:
    """``document`` with an inline ``<script>`` of ``code`` last in ``<head>``.

    Last, not first: React hydrates ``<head>`` child by child, and a script of ours where it
    expects its own first ``<script>`` (the colour-mode one) is a text mismatch, after which React
    throws the server HTML away and renders the whole document again (losing ``lang`` and
    ``data-lm-auth``).  An extra element after React's own is skipped.  It still runs before the
    page's scripts: those are modules, which run only once the document is parsed.
    """
    close = _HEAD_CLOSE.search(document)
    if close is None:
        return document
    return document[: close.start()] + f"<script>{code}</script>" + document[close.start() :]


#: The web font subset (``assets/fonts``, ``@font-face`` in ``assets/theme.css``) that a page's words in
#: each language need; preloaded per page so it never competes with a subset the page does not use.
FONT_PRELOAD = {
    "ru": "/fonts/manrope-cyrillic-wght-normal.woff2",
    "en": "/fonts/manrope-latin-wght-normal.woff2",
}

def _tag_with(tag: str, *conditions: str) -> re.Pattern[str]:
    """The start of each ``<tag ...>`` matching every lookahead and carrying no ``fetchpriority``."""
    looks = "".join(f"(?=[^>]*{c})" for c in conditions)
    return re.compile(rf"<{tag}\b{looks}(?![^>]*\bfetchpriority=)", re.IGNORECASE)


_STYLESHEET_LINK = _tag_with("link", r"""\brel=["']stylesheet["']""")
_STYLE_PRELOAD = _tag_with("link", r"""\brel=["']preload["']""", r"""\bas=["']style["']""")
_MODULE_PRELOAD = _tag_with("link", r"""\brel=["']modulepreload["']""")
_MODULE_SCRIPT = _tag_with("script", r"""\btype=["']module["']""")


def prioritize_first_paint(document: str, locale: str) -> str:
    """``document`` with its render-blocking stylesheet fetched before its scripts and its font preloaded.

    The prerendered HTML already holds the page's words; what keeps them off a slow phone's
    screen is the one render-blocking stylesheet, which otherwise shares the line with ~300 kB
    (gzip) of modules preloaded at the same moment.  So the stylesheet (and its preload) get
    ``fetchpriority="high"``, the module preloads and the module script ``fetchpriority="low"``
    (HTML "fetch priority" hints: Chromium then holds low-priority fetches back while a
    render-blocking one is in flight), and the page's font subset (:data:`FONT_PRELOAD`) is
    preloaded, last in ``<head>`` where React's hydration skips it (see :func:`inject_head`).
    Hydration ignores these attributes (an attribute React did not render is left alone).
    """
    document = _STYLESHEET_LINK.sub(lambda m: m.group(0) + ' fetchpriority="high"', document)
    document = _STYLE_PRELOAD.sub(lambda m: m.group(0) + ' fetchpriority="high"', document)
    document = _MODULE_PRELOAD.sub(lambda m: m.group(0) + ' fetchpriority="low"', document)
    document = _MODULE_SCRIPT.sub(lambda m: m.group(0) + ' fetchpriority="low"', document)
    font = FONT_PRELOAD.get(locale)
    close = _HEAD_CLOSE.search(document)
    if font is None or close is None:
        return document
    link = f'<link rel="preload" href="{font}" as="font" type="font/woff2" crossorigin="anonymous"/>'
    return document[: close.start()] + link + document[close.start() :]


_BLOCKING_CSS = re.compile(
    r"""<link\b(?=[^>]*\brel=["']stylesheet["'])(?![^>]*\bmedia=)[^>]*\bhref=["'](/[^"'?#]+\.css)["'][^>]*>""",
    re.IGNORECASE,
)
#: Turns the full stylesheet on (and drops the inline copy of its critical rules) once it has loaded.
SWAP_CSS_SCRIPT = (
    '(()=>{const l=document.querySelector("link[data-lm-css]");if(!l)return;'
    'const on=()=>{l.media="all";const c=document.getElementById("lm-critical");if(c)c.remove()};'
    'if(l.sheet)on();else l.addEventListener("load",on)})();'
)


def default_static_dir() -> Path:
    """Where Reflex's prod build serves the pages and assets from (``$REFLEX_WEB_WORKDIR/build/client``)."""
    return Path(os.environ.get("REFLEX_WEB_WORKDIR") or ".web") / "build" / "client"


def inline_critical_css(document: str, static_dir: Path) -> tuple[str, str | None]:
    """``document`` painting without waiting for its stylesheet: critical rules inline, the sheet aside.

    The first ``<link rel="stylesheet">`` of ``<head>`` (the app's one stylesheet, read from
    ``static_dir``) gets ``media="print"`` (fetched, not render-blocking; its ``rel=preload``
    twin already fetches it early) and ``data-lm-css``; its rules that may match this document
    (:func:`lashme.i18n.critical_css.critical_css`) go last in ``<head>`` as
    ``<style id="lm-critical">``, followed by :data:`SWAP_CSS_SCRIPT`, which switches the sheet to
    ``media="all"`` and removes the inline copy once it has loaded (so the cascade is the
    sheet's own from then on); without scripts a ``<noscript>`` link applies the sheet.  All three
    are after React's own head elements, which hydration skips.

    Returns:
        ``(document, script)``: the page, and the inline script's code for the CSP hash (None
        when nothing was changed: no such link, or its file is not there).
    """
    close = _HEAD_CLOSE.search(document)
    link = _BLOCKING_CSS.search(document, 0, close.start() if close else 0)
    if close is None or link is None or "data-lm-css" in document[: close.start()]:
        return document, None
    rules = critical_css(static_dir / link.group(1).lstrip("/"), document)
    if rules is None:
        return document, None
    tag = link.group(0)
    swapped = tag[:5] + ' media="print" data-lm-css=""' + tag[5:]
    style = '<style id="lm-critical">' + rules.replace("</", "<\\/") + "</style>"
    head_end = close.start()
    out = (
        document[: link.start()]
        + swapped
        + document[link.end() : head_end]
        + style
        + f"<script>{SWAP_CSS_SCRIPT}</script>"
        + f'<noscript><link rel="stylesheet" href="{link.group(1)}"/></noscript>'
        + document[head_end:]
    )
    return out, SWAP_CSS_SCRIPT


def csp_with_script(policy: str, code: str) -> str:
    """A ``Content-Security-Policy`` whose ``script-src`` also allows the inline script ``code`` (by hash)."""
    digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode()
    source = f"'sha256-{digest}'"
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    for i, directive in enumerate(directives):
        if directive.split()[0].lower() == "script-src":
            directives[i] = f"{directive} {source}"
            break
    else:
        return policy
    return "; ".join(directives)


def _cookie_value(cookie_header: str | None, name: str) -> str | None:
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


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
            remember=i18n.normalize(_cookie_value(cookies, COOKIE)) != locale,
            signed_in=bool(_cookie_value(cookies, SESSION_COOKIE)),
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
