"""The landing: packs and prices from the database, the studio-made examples, the page state, the theme."""

from __future__ import annotations

import asyncio
import colorsys
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlmodel import select

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme import i18n
from lashme.accounts import auth
from lashme.app import landing
from lashme.app.caller import visitor
from lashme.credits import pricing
from lashme.images import examples
from lashme.models import CreditPack
from lashme.ops.db import session_scope
from lashme.providers.studio import StudioProvider
from lashme.ui.pages.landing import LandingState
from tests.integration.app.test_handlers import _state

ROOT = Path(__file__).resolve().parents[3]
ASSETS = ROOT / "assets"


def _run(coro):
    with ThreadPoolExecutor(1) as pool:  # a session-scoped browser may own this thread's loop
        return pool.submit(asyncio.run, coro).result()


@pytest.mark.parametrize(
    ("minor", "credits", "currency", "expected"),
    [
        (500, 10, "usd", "0.50"),
        (1800, 50, "usd", "0.36"),
        (3000, 100, "usd", "0.30"),
        (1000, 3, "usd", "3.33"),
        (500, 10, "jpy", "50"),
    ],
)
def test_price_per_photo_is_rounded_to_the_currencys_minor_unit(minor, credits, currency, expected):
    assert landing.per_photo_price(minor, credits, currency) == Decimal(expected)


def test_a_pack_without_credits_has_no_price_per_photo():
    with pytest.raises(ValueError):
        landing.per_photo_price(500, 0, "usd")


def test_the_cards_are_the_database_packs_in_each_language(clean_db):
    en = landing.landing_view(visitor(locale="en"))
    assert [(p.credits, p.price, p.per_photo, p.popular) for p in en.packs] == [
        (10, "$5.00", "$0.50", False),
        (50, "$18.00", "$0.36", True),
        (100, "$30.00", "$0.30", False),
    ]
    assert en.packs[1].credits_label == "50 credits" and en.signup_bonus == 3 and not en.signed_in
    ru = landing.landing_view(visitor(locale="ru"))
    assert [(p.price, p.per_photo) for p in ru.packs] == [
        ("5,00\xa0$", "0,50\xa0$"),
        ("18,00\xa0$", "0,36\xa0$"),
        ("30,00\xa0$", "0,30\xa0$"),
    ]
    assert [p.credits_label for p in ru.packs] == ["10 кредитов", "50 кредитов", "100 кредитов"]
    assert landing.bonus_badge(3, "ru") == "3 фото бесплатно при регистрации"
    assert landing.bonus_badge(1, "en") == "1 photo free on sign-up"


def test_an_admins_change_to_packs_and_bonus_shows_on_the_next_load(clean_db):
    with session_scope() as s:
        pricing.set_price(s, "signup_bonus", 5, actor="test")
        for pack in s.exec(select(CreditPack)).all():
            if pack.credits == 10:
                pack.active = False
            if pack.credits == 100:
                pack.price_cents, pack.popular = 2500, True
            s.add(pack)
    view = landing.landing_view(visitor(locale="en"))
    assert view.signup_bonus == 5
    assert [(p.credits, p.price, p.per_photo, p.popular) for p in view.packs] == [
        (50, "$18.00", "$0.36", True),
        (100, "$25.00", "$0.25", True),
    ]


def test_the_examples_are_our_studios_output_on_real_photos_made_once(storage):
    pairs = examples.ensure_examples(storage, StudioProvider())
    assert [p.name for p in pairs] == ["astronaut", "grace_hopper"]
    for pair in pairs:
        before = np.asarray(Image.open(io.BytesIO(storage.get(pair.before_key))).convert("L"), dtype=float)
        after = np.asarray(Image.open(io.BytesIO(storage.get(pair.after_key))).convert("L"), dtype=float)
        assert before.shape == after.shape == (examples.SIZE[1], examples.SIZE[0])
        assert np.abs(after - before).mean() > 2  # a visible change...
        gy_b, gx_b = np.gradient(before)
        gy_a, gx_a = np.gradient(after)
        # ...of tone only: the edges (lashes, brows, hair) stay where they were
        corr = np.corrcoef(np.hypot(gx_b, gy_b).ravel(), np.hypot(gx_a, gy_a).ravel())[0, 1]
        assert corr > 0.85, (pair.name, corr)
        # the "after" is exactly what the studio provider makes of the "before"
        (fresh,) = StudioProvider().generate(storage.get(pair.before_key), [pair.preset])
        redone = np.asarray(fresh.image.convert("L"), dtype=float)
        assert np.abs(redone - after).mean() < 2  # JPEG round trip only
    stamps = [storage._path(p.after_key).stat().st_mtime_ns for p in pairs]
    assert examples.ensure_examples(storage, StudioProvider()) == pairs
    assert [storage._path(p.after_key).stat().st_mtime_ns for p in pairs] == stamps  # not rendered again


def test_the_view_gives_signed_urls_for_the_examples(clean_db, storage):
    view = landing.landing_view(visitor(locale="ru"))
    assert len(view.examples) == 2
    for ex in view.examples:
        assert ex.before_url.startswith("/files/site/examples/") and "s=" in ex.before_url
        assert ex.after_url.startswith("/files/site/examples/") and ex.preset in ("warm_glow", "soft_focus")


def test_landing_state_fills_a_visitors_page_and_sends_a_master_to_upload(clean_db):
    st = _state(LandingState, anon="visitor-1")
    st.locale = "ru"
    assert _run(LandingState.on_load.fn(st)) is None
    assert [p["name"] for p in st.packs] == ["Пакет 10", "Пакет 50", "Пакет 100"]
    assert st.packs[1]["per_photo"] == "0,36\xa0$ за фото" and st.packs[1]["popular"] is True
    assert len(st.examples) == 2 and st.examples[0]["preset"] == "Тёплое сияние"
    assert st.bonus_badge == "3 фото бесплатно при регистрации" and st.start_credits == "3 кредита"
    with session_scope() as s:
        user = auth.sign_up(s, email="master@example.com", password="Secret123", signup_bonus=3)
        token = auth.start_session(s, user_id=user.id)
    master = _state(LandingState, token=token)
    out = _run(LandingState.on_load.fn(master))
    assert "/upload" in repr(out) and master.packs == []


def test_every_landing_message_is_in_russian_and_english():
    keys = {m.id for m in i18n.read_catalog("en") if m.id}
    landing_keys = [k for k in keys if k.split(".")[0] in ("landing", "legal", "page")]
    assert len(landing_keys) > 60
    same_ok = {"landing.footer.copyright", "legal.contacts.email"}
    for key in landing_keys:
        ru, en = i18n.catalog("ru")[key], i18n.catalog("en")[key]
        assert ru and en, key
        if key not in same_ok:
            assert ru != en and re.search("[а-яё]", ru.lower()), key


# ---------- theme: palette contrast (WCAG 2.x relative luminance), icons, self-hosted font ----------


def _tokens(css: str, selector: str) -> dict[str, tuple[float, float, float]]:
    block = css[css.index(selector) :]
    block = block[block.index("{") + 1 : block.index("}")]
    out = {}
    for name, h, s, lum in re.findall(r"--([\w-]+):\s*hsl\(([\d.]+) ([\d.]+)% ([\d.]+)%\)", block):
        out[name] = colorsys.hls_to_rgb(float(h) / 360, float(lum) / 100, float(s) / 100)
    return out


def _contrast(a, b) -> float:
    def lum(rgb):
        r, g, b_ = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("selector", [":root {", "html.dark, .dark {"])
def test_palette_text_pairs_meet_wcag_aa(selector):
    css = (ASSETS / "theme.css").read_text()
    light = _tokens(css, ":root {")
    t = {**light, **_tokens(css, selector)}
    white = (1.0, 1.0, 1.0)
    pairs = {
        "button text on primary": (white, t["lm-primary"]),
        "button text on primary hover": (white, t["lm-primary-hover"]),
        "rose text on background": (t["lm-primary-text"], t["lm-background"]),
        "rose text on secondary": (t["lm-primary-text"], t["lm-secondary"]),
        "muted text on background": (t["lm-muted-foreground"], t["lm-background"]),
        "muted text on card": (t["lm-muted-foreground"], t["lm-card"]),
        "text on background": (t["lm-foreground"], t["lm-background"]),
        "plum eyebrow on background": (t["lm-plum"], t["lm-background"]),
    }
    low = {name: round(_contrast(*pair), 2) for name, pair in pairs.items() if _contrast(*pair) < 4.5}
    assert low == {}
    # the brief's rose keeps its hue
    assert re.search(r"--lm-primary: hsl\(340 ", css)


def test_icons_manifest_and_font_are_served_from_our_assets():
    css = (ASSETS / "theme.css").read_text()
    fonts = re.findall(r'url\("(/fonts/[^"]+)"\)', css)
    assert fonts and all((ASSETS / f.lstrip("/")).is_file() for f in fonts)
    assert "http" not in css.split("*/", 2)[-1]  # no font CDN or any other remote URL
    assert any("cyrillic" in f for f in fonts)
    with Image.open(ASSETS / "favicon.ico") as ico:
        assert ico.format == "ICO"
    with Image.open(ASSETS / "apple-touch-icon.png") as touch:
        assert touch.size == (180, 180) and touch.mode == "RGB"  # iOS shows transparency as black
    manifest = json.loads((ASSETS / "manifest.webmanifest").read_text())
    assert manifest["lang"] == "ru"
    for icon in manifest["icons"]:
        with Image.open(ASSETS / icon["src"].lstrip("/")) as img:
            assert f"{img.size[0]}x{img.size[1]}" == icon["sizes"]
