"""Rewrites of a page's ``<html>`` tag and ``<head>``: ``lang``, title, description, sign-in flag, script."""

from __future__ import annotations

import html
import re

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


def mark_session(document: str, signed_in: bool) -> str:
    """``document`` with ``<html data-lm-auth="1">`` when a sign-in cookie came, else ``"0"``."""
    flag = "1" if signed_in else "0"

    def set_flag(match: re.Match[str]) -> str:
        tag = re.sub(r"""\sdata-lm-auth\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", "", match.group(0))
        end = len(tag) - (2 if tag.endswith("/>") else 1)
        return tag[:end] + f' data-lm-auth="{flag}"' + tag[end:]

    return _HTML_TAG.sub(set_flag, document, count=1)


#: the ``</head>`` end tag
HEAD_CLOSE = re.compile(r"</head\s*>", re.IGNORECASE)


def inject_head(document: str, code: str) -> str:
    """``document`` with an inline ``<script>`` of ``code`` last in ``<head>``.

    Last, not first: React hydrates ``<head>`` child by child, and a script of ours where it
    expects its own first ``<script>`` (the colour-mode one) is a text mismatch, after which React
    throws the server HTML away and renders the whole document again (losing ``lang`` and
    ``data-lm-auth``).  An extra element after React's own is skipped.  It still runs before the
    page's scripts: those are modules, which run only once the document is parsed.
    """
    close = HEAD_CLOSE.search(document)
    if close is None:
        return document
    return document[: close.start()] + f"<script>{code}</script>" + document[close.start() :]
