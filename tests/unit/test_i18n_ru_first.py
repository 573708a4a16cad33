"""Russian first: every message translated, every key the code uses defined, Babel formatting,
and the server-side first paint in the visitor's language (``lashme.i18n.html``)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from lashme import i18n
from lashme.app.gallery import parse_date
from lashme.i18n.html import body_text, middleware, page_titles
from lashme.ui.pages.gallery_state import gallery_url

ROOT = Path(i18n.__file__).resolve().parents[1]

#: keys whose Russian text may equal the English one (names, codes, addresses, symbols)
SAME_IN_BOTH = {
    "variant.download_insta",  # "Instagram 4:5"
    "admin.presets.provider_fal",
    "admin.users.col_email",
    "landing.footer.copyright",
    "legal.contacts.email",
    "nav.switch_lang",  # the switch's title names the other language in itself: "English" / "Русский"
}


def _texts(locale: str) -> dict[str, str]:
    return {m.id: m.string for m in i18n.read_catalog(locale) if m.id}


def test_russian_is_the_default_language():
    assert i18n.DEFAULT_LOCALE == "ru"
    assert i18n.negotiate(None) == "ru" and i18n.negotiate("de-DE,fr;q=0.8") == "ru"
    assert i18n.negotiate("ru;q=0, de") == "en"  # Russian refused: the other language
    assert i18n.translate("nav.gallery") == i18n.translate("nav.gallery", "ru") != i18n.translate(
        "nav.gallery", "en"
    )


def test_no_message_is_left_untranslated_in_russian():
    en, ru = _texts("en"), _texts("ru")
    assert set(en) == set(ru), (set(en) ^ set(ru))
    missing = sorted(k for k in en if not ru[k].strip())
    assert not missing, missing
    same = sorted(k for k in en if ru[k] == en[k] and k not in SAME_IN_BOTH)
    assert not same, f"Russian text equals the English one (translate it or whitelist it): {same}"
    latin_only = sorted(
        k
        for k in en
        if k not in SAME_IN_BOTH
        and re.search(r"[A-Za-z]{4,}", ru[k])
        and not re.search(r"[А-Яа-яЁё]", ru[k])
        and not re.fullmatch(r"[\W\d_]*(LashMe|Instagram|Telegram|Stripe|Google|ZIP|PNG|JPEG|API|URL|ID)?[\W\d_]*", ru[k])
    )
    assert not latin_only, f"no Cyrillic in these Russian texts: {latin_only}"


_USES = (
    re.compile(r"""\btr\(\s*["']([\w.]+)["']"""),
    re.compile(r"""\b_tr\(\s*["']([\w.]+)["']"""),
    re.compile(r"""\btranslate\(\s*["']([\w.]+)["']"""),
    re.compile(r"""\b(?:DomainError|NotFound|AuthError|UploadRejected|LinkInvalid|Throttled)\(\s*["']([\w.]+)["']"""),
)
_PLURAL_USES = re.compile(r"""\b(?:translate_plural|ngettext)\(\s*["']([\w.]+)["']""")


def test_every_message_key_used_in_the_code_exists():
    keys = set(_texts("en"))
    used, families = set(), set()
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        for pattern in _USES:
            used |= set(pattern.findall(text))
        families |= set(_PLURAL_USES.findall(text))
    assert len(used) > 100
    assert used <= keys, sorted(used - keys)
    assert {f"{f}.other" for f in families} <= keys, sorted(f for f in families if f"{f}.other" not in keys)
    for family in families:  # every CLDR form of both languages
        for form in ("one", "other"):
            assert f"{family}.{form}" in keys, (family, form)
        ru_forms = {f"{family}.{form}" for form in ("one", "few", "many")}
        assert ru_forms <= keys or family.startswith("plural.credits_unit"), (family, ru_forms - keys)


def test_plurals_durations_numbers_dates_and_money_follow_the_language():
    assert [i18n.ngettext("plural.variants_ready", n, "ru") for n in (1, 2, 5, 21)] == [
        "1 вариант готов",
        "2 варианта готовы",
        "5 вариантов готово",
        "21 вариант готов",
    ]
    assert [i18n.ngettext("plural.variants_ready", n, "en") for n in (1, 4)] == [
        "1 variant ready",
        "4 variants ready",
    ]
    assert i18n.ngettext("plural.credits_added", 1, "en") == "Payment received — 1 credit added."
    assert i18n.format_duration(4 * 3600 + 49 * 60, "ru") == "4 ч 49 мин"
    assert i18n.format_duration(4 * 3600 + 49 * 60, "en") == "4 hr 49 min"
    assert i18n.format_duration(40, "ru") == "40 с" and i18n.format_duration(7200, "en") == "2 hr"
    assert i18n.format_number(12345.5, "ru").replace("\xa0", " ") == "12 345,5"
    assert i18n.format_number(12345.5, "en") == "12,345.5"
    day = datetime(2026, 11, 21, 14, 5, tzinfo=UTC)
    assert i18n.format_date_short(day, "ru") == "21.11.2026" and i18n.format_date_short(day, "en") == "11/21/26"
    assert i18n.format_money(1800, "usd", "ru").replace("\xa0", " ") == "18,00 $"
    assert i18n.format_money(1800, "usd", "en") == "$18.00"


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_a_date_is_found_the_way_the_gallery_shows_it(locale):
    shown = i18n.format_dt(datetime(2026, 11, 21, 14, 5, tzinfo=UTC), locale, fmt="short")
    midnight = datetime(2026, 11, 21, tzinfo=UTC)
    assert parse_date(shown, locale) == midnight  # the tile's whole label, time included
    assert parse_date(shown.split(",")[0], locale) == midnight
    assert parse_date("2026-11-21", locale) == midnight
    assert parse_date("Анна", locale) is None and parse_date("13/45/26", locale) is None


def test_gallery_urls_carry_only_the_chosen_filters():
    assert gallery_url() == "/gallery"
    url = gallery_url(q="21.11.2026", preset="natural", fav=True, sort="oldest", pages=2)
    assert url == "/gallery?q=21.11.2026&preset=natural&sort=oldest&fav=1&page=2"


_BUILT = (
    '<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/><title>x</title></head><body>'
    "<header><a id=\"nav-signin\" href=\"/login\">{signin}</a></header>"
    '<main><h1>{title}</h1><input placeholder="{search}"/><p>Anna &amp; Co</p>'
    "<script>const s = \"{title}\";</script></main></body></html>"
)


def _built_page() -> str:
    ru = i18n.catalog("ru")
    return _BUILT.format(signin=ru["nav.sign_in"], title=ru["gallery.title"], search=ru["gallery.search"])


def _client() -> TestClient:
    async def gallery(request):
        return HTMLResponse(
            _built_page(),
            headers={"content-security-policy": "default-src 'self'; script-src 'self' 'sha256-abc'"},
        )

    inner = Starlette(routes=[Route("/gallery", gallery)])
    return TestClient(middleware.LocalizedHtml(inner))


def test_an_english_visitor_gets_english_html_before_any_script_runs():
    en = i18n.catalog("en")
    resp = _client().get("/gallery", headers={"Accept-Language": "en-US,en;q=0.9"})
    text = resp.text
    assert f">{en['nav.sign_in']}<" in text and f"<h1>{en['gallery.title']}</h1>" in text
    assert f'placeholder="{en["gallery.search"]}"' in text
    assert "Anna &amp; Co" in text  # other text untouched
    ru_title = i18n.catalog("ru")["gallery.title"]
    assert f'const s = "{ru_title}"' in text  # scripts untouched
    # the texts React will hydrate with, in an inline script the CSP allows by hash
    code = re.search(r"<script>(globalThis\.__lmT=.*?)</script>", text).group(1)
    table = json.loads(code.removeprefix("globalThis.__lmT=").removesuffix(";"))
    assert table["gallery.title"] == en["gallery.title"] and table["nav.sign_in"] == en["nav.sign_in"]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in resp.headers["content-security-policy"].split("script-src", 1)[1]
    assert 'data-lm-auth="0"' in text and '<html lang="en"' in text
    assert "lashme_locale=en" in resp.headers["set-cookie"]


def test_a_russian_visitor_gets_the_built_page_and_a_signed_in_one_the_skeleton_flag():
    resp = _client().get(
        "/gallery", headers={"Accept-Language": "ru-RU", "Cookie": "lashme_locale=ru; lashme_session=tok"}
    )
    assert "__lmT" not in resp.text and "set-cookie" not in resp.headers
    assert i18n.catalog("ru")["gallery.title"] in resp.text
    assert 'data-lm-auth="1"' in resp.text and '<html lang="ru"' in resp.text


def test_the_session_cookie_name_matches_the_accounts_one():
    from lashme.accounts.auth import SESSION_COOKIE

    assert middleware.SESSION_COOKIE == SESSION_COOKIE
    assert body_text.BUILD_LOCALE == i18n.DEFAULT_LOCALE


def test_admin_pages_have_titles_in_both_languages():
    from lashme.ui.admin.routes import ADMIN_PAGES

    for route, _, name in ADMIN_PAGES:
        path = re.sub(r"\[\w+\]", "x1", route)
        assert page_titles.page_name(path) == name, route
        for locale in i18n.LOCALES:
            title, _ = page_titles.page_texts(name, locale)
            assert title != i18n.catalog(locale)["page.default.title"], (route, locale)
