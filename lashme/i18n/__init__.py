"""Languages: gettext catalogs (Babel ``.po``), locale negotiation, and dates per locale.

Plain Python (no Reflex import).  Message ids are stable keys — the UI's
(``nav.gallery``) and the domain errors' (``upload.too_large``, see :mod:`lashme.errors`)
— and each locale's ``locales/<locale>/LC_MESSAGES/messages.po`` gives the
text.  The ``.po`` files are the only source: they are parsed with
``babel.messages.pofile.read_po`` and compiled to gettext ``.mo`` bytes in
memory (``babel.messages.mofile.write_mo``) on first use, so a clean clone
needs no build step.  A key missing from a catalog falls back to English (the
source catalog, :data:`SOURCE_LOCALE`), then to the key itself.

Russian first: :data:`DEFAULT_LOCALE` is ``ru``, the language of a visitor who has no saved
setting and whose browser names no language we have.  Counts, durations, dates, numbers and
money are formatted with Babel (CLDR data): :func:`ngettext`/:func:`translate_plural`,
:func:`format_duration`, :func:`format_dt`, :func:`format_number`, :func:`format_money`.

The served pages in the visitor's language (the prerendered HTML rewritten per request by an
ASGI middleware: ``lang``, titles, body text, first paint) are :mod:`lashme.i18n.html`, with
:mod:`lashme.i18n.critical_css`.
"""

from __future__ import annotations

import gettext
import io
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_precision
from babel.units import format_unit

#: UI languages.
LOCALES: tuple[str, ...] = ("en", "ru")
#: The language of a visitor with no saved setting and no supported ``Accept-Language``.
DEFAULT_LOCALE = "ru"
#: The reference catalog: every key is defined there first; missing texts fall back to it.
SOURCE_LOCALE = "en"
LOCALE_NAMES = {"en": "English", "ru": "Русский"}
CATALOG_DIR = Path(__file__).resolve().parent / "locales"


def po_path(locale: str) -> Path:
    """Path of ``locale``'s main catalog, ``messages.po``."""
    return CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"


def po_paths(locale: str) -> list[Path]:
    """Every ``.po`` file of ``locale``: ``messages.po`` first, then the area catalogs by file name."""
    main = po_path(locale)
    return [main, *sorted(p for p in main.parent.glob("*.po") if p != main)]


def read_catalog(locale: str):
    """``locale``'s messages from all its ``.po`` files merged into one Babel ``Catalog``.

    Raises:
        OSError: ``messages.po`` is missing.
        ValueError: two files define the same message id.
    """
    paths = po_paths(locale)
    with paths[0].open("rb") as f:
        merged = read_po(f, locale=locale)
    for path in paths[1:]:
        with path.open("rb") as f:
            for message in read_po(f, locale=locale):
                if not message.id:
                    continue
                if message.id in merged:
                    raise ValueError(f"{path.name}: message {message.id!r} is already defined")
                merged[message.id] = message
    return merged


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled gettext catalog of ``locale`` (English for unknown locales).

    Raises:
        OSError: the ``.po`` file is missing.
    """
    locale = normalize(locale) or DEFAULT_LOCALE
    catalog = read_catalog(locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    tr = gettext.GNUTranslations(buf)
    if locale != SOURCE_LOCALE:
        tr.add_fallback(translations(SOURCE_LOCALE))
    return tr


@lru_cache(maxsize=len(LOCALES))
def catalog(locale: str) -> dict[str, str]:
    """Every message of ``locale`` as ``{key: text}`` (English fills gaps); for the UI's state."""
    locale = normalize(locale) or DEFAULT_LOCALE
    keys = [m.id for m in read_catalog(SOURCE_LOCALE) if m.id]
    tr = translations(locale)
    return {k: tr.gettext(k) for k in keys}


def normalize(code: str | None) -> str | None:
    """``"ru-RU"``/``"ru_RU"``/``"RU"`` → ``"ru"``; None when not a supported language."""
    if not code:
        return None
    lang = str(code).strip().replace("_", "-").split("-")[0].lower()
    return lang if lang in LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an HTTP ``Accept-Language`` header (RFC 9110 §12.5.4).

    Languages are ranked by their ``q`` weight (default 1, ``q=0`` means
    "not acceptable"), ties in header order.  Falls back to :data:`DEFAULT_LOCALE` (Russian),
    unless the header refused it with ``q=0`` (then the other language).
    """
    ranked: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    for pos, part in enumerate((accept_language or "").split(",")):
        bits = part.strip().split(";")
        if not bits[0]:
            continue
        q = 1.0
        for param in bits[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, pos, bits[0].strip()))
        elif normalize(bits[0]):
            refused.add(normalize(bits[0]) or "")
    for _, _, tag in sorted(ranked):
        found = normalize(tag)
        if found:
            return found
    return next((code for code in (DEFAULT_LOCALE, *LOCALES) if code not in refused), DEFAULT_LOCALE)


def translate(key: str, locale: str | None = None, **params: object) -> str:
    """The text of ``key`` in ``locale`` with ``{placeholders}`` filled (bad params leave the template).

    A parameter with a ``localize(locale) -> str`` method is replaced by its answer first, so a
    domain error can carry e.g. a duration that each client reads in its own language.
    """
    text = translations(normalize(locale) or DEFAULT_LOCALE).gettext(key)
    if not params:
        return text
    # a parameter that knows how to say itself per language (e.g. a duration) is localized here
    params = {k: _localized(v, locale) for k, v in params.items()}
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


def _localized(value: object, locale: str | None) -> object:
    localize = getattr(value, "localize", None)
    return localize(locale) if callable(localize) else value


def translate_plural(key: str, n: int, locale: str | None = None, **params: object) -> str:
    """``key.<form>`` for the CLDR plural form of ``n`` in ``locale`` (``one``/``few``/``many``/``other``).

    Falls back to ``key.other``. ``{n}`` is filled in. Source: CLDR plural rules through
    Babel's ``Locale.plural_form`` (Russian: 1 кредит, 3 кредита, 5 кредитов).
    """
    loc = normalize(locale) or DEFAULT_LOCALE
    form = babel_locale(loc).plural_form(abs(int(n)))
    table = catalog(loc)
    chosen = f"{key}.{form}" if f"{key}.{form}" in table else f"{key}.other"
    return translate(chosen, loc, n=n, **params)


def ngettext(key: str, n: int, locale: str | None = None, **params: object) -> str:
    """Like gettext's ``ngettext``, over our keyed catalogs: the text of ``n`` things, ``{n}`` filled in.

    The plural forms are ``key.one``/``key.few``/``key.many``/``key.other`` chosen by CLDR's rules
    through Babel (see :func:`translate_plural`); ``n`` is printed with the locale's digit grouping.

    Args:
        key: the message family, e.g. ``"plural.variants_ready"``.
        n: the count (negative counts take the form of their absolute value).
        locale: ``en``/``ru`` (default :data:`DEFAULT_LOCALE`).
        **params: other ``{placeholders}``.
    """
    return translate_plural(key, n, locale, **params)


def format_number(value: float | int, locale: str | None) -> str:
    """``value`` with the locale's separators (Babel): ``12345.5`` → ``"12,345.5"`` / ``"12 345,5"``."""
    return format_decimal(value, locale=babel_locale(locale))


def format_duration(value: timedelta | float | int, locale: str | None) -> str:
    """A duration in hours and minutes for ``locale`` (Babel, CLDR short units).

    ``4 h 49 min`` reads ``"4 ч 49 мин"`` in Russian and ``"4 hr 49 min"`` in English.

    Under a minute it is seconds (``"40 с"``); a whole number of hours or minutes drops the
    zero part; days are counted as hours (queues and retention windows stay readable).

    Args:
        value: a ``timedelta`` or seconds (negative values are treated as zero).
        locale: ``en``/``ru``.
    """
    seconds = int(max(0.0, value.total_seconds() if isinstance(value, timedelta) else float(value)))
    loc = babel_locale(locale)

    def unit(amount: int, name: str) -> str:
        return format_unit(amount, f"duration-{name}", length="short", locale=loc)

    if seconds < 60:
        return unit(seconds, "second")
    hours, minutes = divmod(seconds // 60, 60)
    parts = ([unit(hours, "hour")] if hours else []) + ([unit(minutes, "minute")] if minutes else [])
    return " ".join(parts)


def has_message(key: str | None) -> bool:
    """True when ``key`` is a message id of the English catalog (e.g. a job's stored error key)."""
    return bool(key) and key in catalog(SOURCE_LOCALE)


def error_key(key: str | None, fallback: str = "generation.failed") -> str:
    """``key`` when the catalogs know it, else ``fallback`` (for error keys stored on rows)."""
    return key if key and has_message(key) else fallback


def error_text(error: Exception, locale: str | None, *, time_zone: str | None = None) -> str:
    """A :class:`lashme.errors.DomainError`'s message in ``locale`` (other errors: a generic failure).

    ``time_zone``: the reader's IANA time zone, if known; a parameter with an
    ``in_time_zone(name)`` method (e.g. a reset moment) is given it first, so it can say the
    local clock time too.
    """
    key = getattr(error, "key", None)
    if key is None:
        return translate("generation.failed", locale)
    params = dict(getattr(error, "params", {}))
    if time_zone:
        for name, value in params.items():
            in_zone = getattr(value, "in_time_zone", None)
            if callable(in_zone):
                params[name] = in_zone(time_zone)
    return translate(key, locale, **params)


def babel_locale(locale: str | None) -> Locale:
    """The Babel ``Locale`` for a UI locale (``en`` → ``en_US``, ``ru`` → ``ru_RU``)."""
    code = {"en": "en_US", "ru": "ru_RU"}.get(normalize(locale) or DEFAULT_LOCALE, "en_US")
    try:
        return Locale.parse(code)
    except UnknownLocaleError:  # pragma: no cover - both ship with Babel
        return Locale.parse("en_US")


def format_dt(dt: datetime, locale: str | None, *, fmt: str = "medium") -> str:
    """``dt`` formatted for ``locale`` with Babel (CLDR patterns, UTC); ``fmt``: short|medium|long."""
    return format_datetime(dt, format=fmt, tzinfo=None, locale=babel_locale(locale))


def format_date_short(dt: datetime, locale: str | None) -> str:
    """The date part of :func:`format_dt`'s short form (``21.11.2026`` / ``11/21/26``), UTC."""
    return format_date(dt.date(), format="short", locale=babel_locale(locale))


def format_money(minor_units: int, currency: str, locale: str | None = "en_US") -> str:
    """An amount in minor units for ``locale`` (a UI code ``en``/``ru`` or a Babel code ``en_US``).

    ``1800, "usd", "en"`` → ``"$18.00"``; ``500, "jpy"`` → ``"¥500"`` (Babel; minor-unit digits from CLDR).
    """
    code = currency.upper()
    return format_currency(
        minor_units / 10 ** get_currency_precision(code), code, locale=babel_locale(locale)
    )


def money_locale(locale: str | None) -> str:
    """The Babel locale code to pass to ``lashme.credits.pricing.format_money``."""
    return str(babel_locale(locale))
