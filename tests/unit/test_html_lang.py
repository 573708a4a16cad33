"""Server-side page language: ``<html lang>``, ``<title>`` and description per visitor (lashme.i18n.html)."""

from __future__ import annotations

import gzip
import re

import pytest
from reflex.utils.precompressed_staticfiles import PrecompressedStaticFiles
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from lashme.i18n.html.head import localize_html
from lashme.i18n.html.middleware import LocalizedHtml
from lashme.i18n.html.negotiation import choose_locale
from lashme.i18n.html.page_titles import page_name

PAGE = (
    '<!DOCTYPE html><html lang="en" class="light"><head><meta charset="utf-8"/>'
    '<title>Gallery — LashMe</title><meta name="description" content="English words"/>'
    '<meta property="og:title" content="Gallery — LashMe"/></head>'
    "<body><div id='root'>" + "x" * 3000 + "<title>Gallery — LashMe</title></div></body></html>"
)


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        ("lashme_locale=en", "ru-RU,ru;q=0.9", "en"),  # the user's choice wins
        ("other=1; lashme_locale=ru", "en-US", "ru"),
        ("", "en-US,en;q=0.9", "en"),
        (None, "de-DE, en;q=0.5", "en"),  # the best *supported* language
        ("", "de-DE,fr;q=0.8", "ru"),  # nothing supported: Russian first
        ("", "en;q=0, de", "ru"),  # q=0 means "not English"
        ("", "", "ru"),
        ("lashme_locale=xx", "", "ru"),
        ('lashme_locale="en', "en", "en"),  # a malformed cookie falls back to the header
    ],
)
def test_language_comes_from_the_cookie_then_accept_language_then_russian(cookie, accept, expected):
    assert choose_locale(cookie, accept) == expected


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/", "landing"),
        ("/upload", "upload"),
        ("/job/abc123", "job"),
        ("/credits/success/", "payment"),
        ("/credits", "credits"),
        ("/admin/users/7", "admin_user_detail"),
        ("/admin", "admin"),
        ("/terms", "terms"),
        ("/nope", "default"),
    ],
)
def test_pages_are_named_by_path(path, name):
    assert page_name(path) == name


def test_lang_titles_and_descriptions_are_replaced_and_escaped():
    out = localize_html(PAGE, locale="ru", title="Галерея <b> & Ко", description='Слова "в кавычках"')
    assert out.startswith('<!DOCTYPE html><html lang="ru" class="light">')
    assert out.count("<title>Галерея &lt;b&gt; &amp; Ко</title>") == 2 and "Gallery" not in out.replace(
        "og", ""
    )
    assert '<meta name="description" content="Слова &quot;в кавычках&quot;"/>' in out
    assert '<meta property="og:title" content="Галерея &lt;b&gt; &amp; Ко"/>' in out


def test_missing_title_and_description_are_added_to_the_head():
    out = localize_html("<html><head></head><body></body></html>", locale="en", title="T", description="D")
    assert (
        out
        == '<html lang="en"><head><title>T</title><meta name="description" content="D"/></head><body></body></html>'
    )


def _app(tmp_path) -> TestClient:
    static = tmp_path / "static"
    (static / "gallery").mkdir(parents=True)
    (static / "gallery" / "index.html").write_text(PAGE)
    (static / "gallery" / "index.html.gz").write_bytes(gzip.compress(PAGE.encode()))  # Reflex's sidecars
    (static / "app.js").write_text("console.log('hi')")
    (static / "404.html").write_text(PAGE)

    async def streamed(request):
        async def chunks():
            for part in (PAGE[:100], PAGE[100:2000], PAGE[2000:]):
                yield part.encode()

        return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")

    async def api(request):
        return HTMLResponse("<html lang='en'><title>api</title></html>")

    inner = Starlette(
        routes=[
            Route("/streamed", streamed),
            Route("/api/v1/page", api),
            Mount("/", PrecompressedStaticFiles(directory=static, html=True, encodings=["gzip"])),
        ]
    )
    return TestClient(LocalizedHtml(inner))


def test_built_pages_are_served_in_the_visitors_language(tmp_path):
    client = _app(tmp_path)
    ru = client.get("/gallery", headers={"Accept-Language": "ru-RU,ru;q=0.9", "Accept-Encoding": "gzip"})
    assert ru.status_code == 200 and '<html lang="ru" class="light" data-lm-auth="0">' in ru.text
    assert "<title>Галерея — LashMe</title>" in ru.text
    assert ru.headers["content-encoding"] == "gzip"  # re-compressed after the rewrite
    assert ru.headers["content-language"] == "ru" and "Cookie" in ru.headers["vary"]
    assert "etag" not in ru.headers and ru.headers["cache-control"] == "no-cache"

    client.cookies.set("lashme_locale", "en")  # the language switch's cookie beats a Russian browser
    en = client.get("/gallery", headers={"Accept-Language": "ru"})
    client.cookies.clear()
    assert '<html lang="en" class="light" data-lm-auth="0">' in en.text and "<title>Gallery — LashMe</title>" in en.text

    nobody = client.get("/gallery", headers={"Accept-Encoding": "identity"})
    assert 'lang="ru"' in nobody.text and "content-encoding" not in nobody.headers
    assert int(nobody.headers["content-length"]) == len(nobody.content)

    head = client.head("/gallery", headers={"Accept-Language": "en"})
    assert head.status_code == 200 and head.content == b""


def test_other_responses_pass_through_untouched(tmp_path):
    client = _app(tmp_path)
    js = client.get("/app.js", headers={"Accept-Language": "ru"})
    assert js.text == "console.log('hi')" and "etag" in js.headers and "content-language" not in js.headers
    api = client.get("/api/v1/page", headers={"Accept-Language": "ru"})
    assert api.text == "<html lang='en'><title>api</title></html>"


def test_streamed_html_and_not_found_pages_are_rewritten(tmp_path):
    client = _app(tmp_path)
    client.cookies.set("lashme_locale", "ru")
    streamed = client.get("/streamed", headers={"Accept-Language": "en"})
    client.cookies.clear()
    assert (
        'lang="ru"' in streamed.text
        and streamed.text.count("<title>LashMe — студийные фото ваших работ</title>") == 2
    )
    missing = client.get("/no/such/page", headers={"Accept-Language": "en"})
    if missing.status_code == 404 and "html" in missing.headers.get("content-type", ""):
        assert "<title>Page not found — LashMe</title>" in missing.text


def test_every_prerendered_text_has_one_translation_so_no_russian_is_left_in_another_languages_first_paint():
    """The pages are prerendered in Russian; the server swaps each text for the visitor's language.

    A Russian text shared by two keys whose English differs ("Регистрация" was both "Sign up" in
    the header and "Signed up" in an admin table) cannot be swapped: the HTML does not say which
    key it is, so it stayed Russian in the English first paint.  Shared texts must agree.
    """
    from lashme import i18n
    from lashme.i18n.html.body_text import BUILD_LOCALE, prerendered_texts, text_map

    build = {**i18n.catalog(BUILD_LOCALE), **prerendered_texts(BUILD_LOCALE)}
    for target in (loc for loc in i18n.LOCALES if loc != BUILD_LOCALE):
        other = {**i18n.catalog(target), **prerendered_texts(target)}
        by_text: dict[str, set[str]] = {}
        for key, text in build.items():
            if text.strip() and "{" not in text:
                by_text.setdefault(text.strip(), set()).add(key)
        clashes = {
            text: sorted(f"{k} = {other[k]!r}" for k in keys)
            for text, keys in by_text.items()
            if len({other[k].strip() for k in keys}) > 1
        }
        assert clashes == {}, f"{BUILD_LOCALE} texts with two {target} translations: {clashes}"
        assert set(text_map(BUILD_LOCALE, target)) == set(by_text)  # every one of them is swapped


def test_the_header_and_landing_words_are_swapped_in_an_english_first_paint():
    from lashme.i18n.html.body_text import translate_body

    page = '<html><body><a id="nav-signup">Регистрация</a><h2 id="prices-title">Цены</h2></body></html>'
    out, keys = translate_body(page, source="ru", target="en")
    assert ">Sign up<" in out and ">Pricing<" in out
    assert {"nav.sign_up", "landing.prices.title"} <= keys


def test_state_made_first_paint_texts_are_swapped_and_handed_to_the_page():
    from lashme.i18n.html.body_text import catalog_script, translate_body

    page = (
        '<html><body><p><span id="bonus-badge">3 фото бесплатно при регистрации</span></p>'
        '<div class="lm-plan-meta">3 кредита<!-- --> <!-- -->при регистрации</div></body></html>'
    )
    out, keys = translate_body(page, source="ru", target="en")
    assert ">3 photos free on sign-up<" in out and ">3 credits<" in out
    assert not re.search("[А-Яа-яЁё]", out)
    assert {"=landing.badge", "=landing.start_credits"} <= keys
    assert '"=landing.badge": "3 photos free on sign-up"' in catalog_script("en", keys)


def test_the_prerendered_bonus_is_the_states_default():
    from lashme.i18n.html.body_text import PRERENDER_SIGNUP_BONUS
    from lashme.ui.state import SessionState

    assert SessionState.get_fields()["signup_bonus"].default == PRERENDER_SIGNUP_BONUS
