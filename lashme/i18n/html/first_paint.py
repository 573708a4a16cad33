"""A slow phone's first paint: stylesheet before scripts, the page's font preloaded, critical CSS inline.

The page's own font subset is preloaded (:func:`prioritize_first_paint`), the rules of the app's
stylesheet that the page can use are inlined (:func:`inline_critical_css`,
:mod:`lashme.i18n.critical_css`) and the stylesheet itself loads without blocking the paint,
ahead of the scripts; :func:`csp_with_script` lets the inline script that swaps it in run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

from lashme.i18n.critical_css import critical_css
from lashme.i18n.html.head import HEAD_CLOSE

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
    preloaded, last in ``<head>`` where React's hydration skips it (see
    :func:`lashme.i18n.html.head.inject_head`).
    Hydration ignores these attributes (an attribute React did not render is left alone).
    """
    document = _STYLESHEET_LINK.sub(lambda m: m.group(0) + ' fetchpriority="high"', document)
    document = _STYLE_PRELOAD.sub(lambda m: m.group(0) + ' fetchpriority="high"', document)
    document = _MODULE_PRELOAD.sub(lambda m: m.group(0) + ' fetchpriority="low"', document)
    document = _MODULE_SCRIPT.sub(lambda m: m.group(0) + ' fetchpriority="low"', document)
    font = FONT_PRELOAD.get(locale)
    close = HEAD_CLOSE.search(document)
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
    close = HEAD_CLOSE.search(document)
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
