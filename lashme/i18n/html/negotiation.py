"""Which language a page request gets: the language cookie, else ``Accept-Language``, else Russian."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from lashme import i18n

#: The language when neither the cookie nor ``Accept-Language`` names a supported one.
FALLBACK = i18n.DEFAULT_LOCALE
#: The language cookie (set by the language switch, and by :mod:`~lashme.i18n.html.middleware`).
COOKIE = "lashme_locale"
#: ``max-age`` of the language cookie the middleware sets (a year, as the language switch's).
COOKIE_MAX_AGE = 365 * 86400


def cookie_value(cookie_header: str | None, name: str) -> str | None:
    """Cookie ``name``'s value in a raw ``Cookie`` header; None when absent or the header is malformed."""
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def choose_locale(cookie_header: str | None, accept_language: str | None) -> str:
    """The page language: the ``lashme_locale`` cookie, else ``Accept-Language``, else :data:`FALLBACK`.

    Args:
        cookie_header: the raw ``Cookie`` request header (may be None or malformed).
        accept_language: the raw ``Accept-Language`` header.

    Returns:
        A supported locale code (``"ru"`` or ``"en"``).
    """
    found = i18n.normalize(cookie_value(cookie_header, COOKIE))
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
