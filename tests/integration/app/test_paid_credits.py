"""Buying credits as a master expects: packs per photo in her currency format, back to her photo after paying."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme import i18n
from lashme.app import admin
from lashme.app import credits as app_credits
from lashme.app.admin import pricing as admin_pricing
from lashme.app.caller import Caller
from lashme.credits import ledger
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.ui.admin.pricing import AdminPricingState
from lashme.ui.pages.credits import CheckoutReturnState, CreditsState
from tests.fakes.stripe_server import API_KEY, WEBHOOK_SECRET, StripeStandIn
from tests.integration.app.test_handlers import _drain, _route, _spec_text, _state


@pytest.fixture
def stripe(monkeypatch):
    with StripeStandIn() as standin:
        monkeypatch.setenv("STRIPE_SECRET_KEY", API_KEY)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("STRIPE_API_BASE", standin.base_url)
        get_settings.cache_clear()
        yield standin
    get_settings.cache_clear()


@pytest.fixture
def no_stripe(monkeypatch):
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "LASHME_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example/variant/" + "a" * 32,
        "//evil.example",
        "/variant/x",
        "/variant/" + "a" * 32 + "?x=1",
        "javascript:alert(1)",
        "/admin",
        "",
    ],
)
def test_only_the_apps_own_pages_are_a_place_to_come_back_to(path):
    assert app_credits.safe_next(path) == ""


def test_packs_show_the_price_per_photo_in_the_readers_format(world, stripe):
    st = _state(CreditsState, token=world["alice_token"], locale="ru")
    _route(st, f"/credits?next=/variant/{world['vids'][0]}", origin="http://localhost:3000")
    CreditsState.on_load.fn(st)
    assert st.configured and st.next_path == f"/variant/{world['vids'][0]}"
    packs = {p["credits"]: p for p in st.packs}
    assert packs[50]["popular"] and not packs[10]["popular"]
    assert packs[50]["price"] == "18,00\xa0$" and packs[50]["per_photo"] == "0,36\xa0$ за фото"
    assert packs[100]["per_photo"] == "0,30\xa0$ за фото"
    en = app_credits.overview(Caller(world["alice"], None, frozenset(), "en", None)).packs
    assert [i18n.format_money(p.per_photo_cents, p.currency, "en") for p in en] == ["$0.50", "$0.36", "$0.30"]


def test_checkout_carries_next_and_the_return_lands_on_the_variant_with_the_new_balance(world, stripe):
    vid = world["vids"][0]
    alice = Caller(world["alice"], None, frozenset(), "en", None)
    pack = app_credits.overview(alice).packs[0]
    url = app_credits.start_checkout(
        alice, pack.id, origin="https://lashme.test", next_path=f"/variant/{vid}"
    )
    cs = stripe.sessions[url.rsplit("/", 1)[1]]
    for field in ("success_url", "cancel_url"):
        assert parse_qs(urlsplit(cs[field]).query)["next"] == [f"/variant/{vid}"], cs[field]
    hostile = app_credits.start_checkout(
        alice, pack.id, origin="https://lashme.test", next_path="//evil.example"
    )
    assert "next=" not in stripe.sessions[hostile.rsplit("/", 1)[1]]["success_url"]

    stripe.pay(cs["id"])
    st = _state(CheckoutReturnState, token=world["alice_token"])
    back = urlsplit(cs["success_url"].replace("{CHECKOUT_SESSION_ID}", cs["id"]))
    _route(st, f"{back.path}?{back.query}", origin="http://localhost:3000")
    out = _spec_text(_drain(CheckoutReturnState.on_load.fn(st)))
    assert st.status == "granted" and f"/variant/{vid}" in out and st.balance == 3 + pack.credits
    with session_scope() as s:
        assert ledger.get_balance(s, world["alice"]).available == 3 + pack.credits


def test_without_stripe_masters_read_plain_words_and_admins_what_to_set(staff, no_stripe):
    st = _state(CreditsState, token=staff["alice_token"], locale="ru")
    CreditsState.on_load.fn(st)
    assert not st.configured and st.packs  # prices stay visible, the buy buttons are not shown
    assert i18n.translate("paid.payments_soon", "ru") == "Оплата скоро появится"
    assert i18n.translate("paid.payments_soon", "en") == "Payments are not available yet"
    setup = admin.run(
        Caller(staff["admin"], None, frozenset({"admin"}), "en", None), admin_pricing.payments_setup
    )
    assert not setup.configured and setup.missing == ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")
    assert setup.webhook_url == "/stripe/webhook"
    page = _state(AdminPricingState, token=staff["admin_token"])
    AdminPricingState.on_load.fn(page)
    assert not page.stripe_configured and page.stripe_missing == "STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET"
    master = _state(AdminPricingState, token=staff["alice_token"])
    AdminPricingState.on_load.fn(master)
    assert master.stripe_missing == ""  # a master learns nothing about the set-up
