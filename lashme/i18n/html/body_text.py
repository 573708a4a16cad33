"""The body's words in the visitor's language: the build language's catalog texts swapped for hers.

The pages are prerendered in :data:`BUILD_LOCALE`; :func:`translate_body` swaps the texts of
the body, and :func:`catalog_script` hands the page the catalog entries it used
(``globalThis.__lmT``) so React's hydration renders the same words.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from functools import lru_cache

from lashme import i18n

#: The language the pages are prerendered in (the frontend state's default ``locale``).
BUILD_LOCALE = i18n.DEFAULT_LOCALE
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
