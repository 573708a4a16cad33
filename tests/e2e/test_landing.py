"""The landing on a 390x844 phone, in Russian and English, as a visitor and as a signed-in master.

Screenshots go to ``benchmarks/out/`` (git-ignored): ``landing-{ru,en}-390-fold.png`` (first screen)
and ``landing-{ru,en}-390-full.png`` (the whole page).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lashme import i18n
from lashme.accounts import auth
from lashme.app.landing import money, per_photo_price
from lashme.credits import pricing
from lashme.ops.db import session_scope

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "out"
PHONE = {"width": 390, "height": 844}
ACCEPT = {"ru": "ru-RU,ru;q=0.9,en;q=0.5", "en": "en-US,en;q=0.9"}

# Elements whose text must fit their own box, and every visible element must fit the viewport.
OVERFLOW_JS = """() => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('header *, main *, footer *')) {
    const r = el.getBoundingClientRect();
    if (!r.width || getComputedStyle(el).visibility === 'hidden') continue;
    if (r.right > vw + 1 || r.left < -1) out.push(`outside: ${el.tagName}.${el.className} ${r.left}-${r.right}`);
    const boxy = el.matches('button, a.rt-Button, h1, h2, h3, summary, .lm-plan, .lm-hero-badge, .lm-step');
    if (boxy && el.scrollWidth > el.clientWidth + 1)
      out.push(`text overflows: ${el.tagName}#${el.id} "${el.textContent.trim().slice(0, 40)}"`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth) out.push('page scrolls sideways');
  return out;
}"""
SMALL_TARGETS_JS = """() => [...document.querySelectorAll('header a, header button, main button, main a, footer a, summary')]
  .filter(el => el.getBoundingClientRect().width > 0)
  .filter(el => { const r = el.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
  .filter(el => !el.closest('.lm-example') && !(el.closest('p') && el.tagName === 'A' && !el.closest('footer')))
  .map(el => `${el.tagName}#${el.id} "${el.textContent.trim().slice(0, 30)}" ${el.getBoundingClientRect().width}x${el.getBoundingClientRect().height}`)"""


def _expected_cards(locale: str) -> list[tuple[str, str, bool]]:
    """(price, per photo, popular) of the packs on sale, formatted as the page must show them."""
    with session_scope() as s:
        packs = pricing.active_packs(s)
        return [
            (
                pricing.format_money(p.price_cents, p.currency, i18n.money_locale(locale)),
                i18n.translate(
                    "landing.plan.per_photo",
                    locale,
                    price=money(per_photo_price(p.price_cents, p.credits, p.currency), p.currency, locale),
                ),
                p.popular,
            )
            for p in packs
        ]


def _text(page, selector):
    return re.sub(r"\s+", " ", page.locator(selector).first.text_content() or "").strip()


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_section_of_the_landing_shows_on_a_phone(app_url, browser, locale):
    OUT.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=ACCEPT[locale].split(",")[0],
        extra_http_headers={"Accept-Language": ACCEPT[locale]},
    )
    page = ctx.new_page()
    hosts: set[str] = set()
    page.on("request", lambda req: req.url.startswith("http") and hosts.add(urlparse(req.url).netloc))
    first = page.goto(app_url + "/")
    # the server already speaks the visitor's language, before any script runs
    raw = first.text()
    assert f'<html lang="{locale}"' in raw
    assert f"<title>{i18n.translate('page.landing.title', locale)}</title>" in raw

    t = i18n.catalog(locale)
    page.locator(".lm-pack").nth(2).wait_for(timeout=30_000)
    page.wait_for_function("document.fonts.status === 'loaded'", timeout=20_000)

    # 1-2-3: header, badge, headline, upload zone
    assert page.locator("header #logo").is_visible() and page.locator("#nav-signup").is_visible()
    assert _text(page, "#nav-signup") == t["landing.start_free"]
    assert _text(page, "#bonus-badge") == i18n.translate_plural("landing.badge", 3, locale)
    assert _text(page, "#hero-title") == t["landing.title"]
    assert page.locator("#photo").is_visible()
    assert page.locator("main").count() == 1
    # the headline, badge and upload zone are on the first screen
    assert page.locator("#photo").bounding_box()["y"] < PHONE["height"]
    page.screenshot(path=str(OUT / f"landing-{locale}-390-fold.png"))

    # how it works, examples, prices, FAQ, footer
    for section in ("#how", "#examples", "#prices", "#faq", "#try", "#footer"):
        page.locator(section).scroll_into_view_if_needed()
        assert page.locator(section).is_visible(), section
    assert page.locator("#how li").count() == 3
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('#examples img')];"
        " imgs.forEach(i => i.loading = 'eager');"
        " return imgs.length === 4 && imgs.every(i => i.complete && i.naturalWidth === 720); }",
        timeout=30_000,
    )
    cards = page.locator(".lm-pack")
    shown = [
        (_text(page, f".lm-pack >> nth={i} >> .lm-plan-price"), _text(page, f".lm-pack >> nth={i} >> .lm-plan-per"),
         cards.nth(i).locator(".lm-plan-badge").count() == 1)
        for i in range(cards.count())
    ]
    assert shown == [(a.replace("\xa0", " "), b.replace("\xa0", " "), c) for a, b, c in _expected_cards(locale)]
    assert _text(page, "#plan-start .lm-plan-price") == t["landing.plan.free"]
    assert _text(page, "#credit-rule") == t["landing.credit_rule"]
    assert page.locator("#faq details").count() == 5
    for link in ("#footer-terms", "#footer-privacy", "#footer-contacts"):
        assert page.locator(link).is_visible()
    page.screenshot(path=str(OUT / f"landing-{locale}-390-full.png"), full_page=True)

    # fits the phone: nothing sticks out, no text overflows its button or card, taps are 44 px
    assert page.evaluate(OVERFLOW_JS) == []
    assert page.evaluate(SMALL_TARGETS_JS) == []
    # our font, from our server; the header stays on screen while scrolling
    # the Cyrillic subset comes on demand (an English page preloads only the Latin one), from this host
    assert page.evaluate(
        "document.fonts.load('16px \"Manrope Variable\"', 'Продающее фото')"
        ".then((faces) => faces.length > 0 && document.fonts.check('16px \"Manrope Variable\"', 'Продающее фото'))"
    )
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Manrope Variable"')
    page.locator("#footer").scroll_into_view_if_needed()  # sticky: the header is still at the top down here
    assert page.evaluate("window.scrollY") > 1000
    assert abs(page.evaluate("document.querySelector('header').getBoundingClientRect().top")) < 1
    assert hosts == {urlparse(app_url).netloc}, hosts
    assert page.title() == i18n.translate("page.landing.title", locale)
    assert page.request.get(app_url + "/favicon.ico").ok

    # the footer's pages
    for path, key in (("/terms", "legal.terms.title"), ("/privacy", "legal.privacy.title"), ("/contacts", "legal.contacts.title")):
        page.goto(app_url + path)
        page.get_by_role("heading", name=t[key]).wait_for(timeout=20_000)
        assert page.evaluate(OVERFLOW_JS) == [], path
    assert _text(page, "#contact-email") == t["legal.contacts.email"]
    ctx.close()


def test_a_signed_in_master_goes_straight_to_her_upload_page(app_url, browser):
    with session_scope() as s:
        user = auth.sign_up(s, email="landing-master@example.com", password="Lashes2026", signup_bonus=3)
        token = auth.start_session(s, user_id=user.id)
    ctx = browser.new_context(viewport=PHONE, extra_http_headers={"Accept-Language": ACCEPT["ru"]})
    host = urlparse(app_url).hostname
    ctx.add_cookies([{"name": "lashme_session", "value": token, "domain": host, "path": "/"}])
    page = ctx.new_page()
    page.goto(app_url + "/")
    page.wait_for_url(re.compile(r".*/upload$"), timeout=30_000)
    page.locator("#photo").wait_for(timeout=20_000)
    page.wait_for_function("document.querySelector('#balance')?.textContent === '3'", timeout=20_000)
    assert page.locator("#nav-upload").get_attribute("href").endswith("/upload")
    ctx.close()
