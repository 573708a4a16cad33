"""The paid moment on the pages: confirm before spending, one charge per double tap, clean images everywhere."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme.app import dashboard as app_dashboard
from lashme.app import gallery as app_gallery
from lashme.app import job as app_job
from lashme.app import variant as app_variant
from lashme.app.caller import Caller
from lashme.credits import ledger
from lashme.jobs import fullres
from lashme.models import LedgerEntry, LedgerKind, User, Variant
from lashme.ops.db import session_scope
from lashme.ui.pages.dashboard import DashboardState
from lashme.ui.pages.gallery import GalleryState
from lashme.ui.pages.job import JobState
from lashme.ui.pages.variant_state import VariantState
from tests.dbutil import count
from tests.integration.app.test_handlers import _drain, _spec_text, _state


def _caller(uid: int | None, anon: str | None = None) -> Caller:
    return Caller(user_id=uid, anon_token=anon, roles=frozenset(), locale="en", ip=None)


def _keys(vid: str) -> Variant:
    with session_scope() as s:
        v = s.get(Variant, vid)
        s.expunge(v)
        return v


def _unlock_charges() -> int:
    with session_scope() as s:
        return count(s, LedgerEntry, LedgerEntry.kind == LedgerKind.UNLOCK)


def _job_state(world, monkeypatch, locale="en"):
    monkeypatch.setattr(JobState, "_route_job_id", lambda self: world["job"])
    st = _state(JobState, token=world["alice_token"], locale=locale)
    JobState.on_load.fn(st)
    return st


def test_the_button_says_the_price_and_the_dialog_the_balance_after(world, monkeypatch):
    st = _job_state(world, monkeypatch)
    assert st.unlock_button == "Unlock full size · 1 credit"
    vid = world["vids"][0]
    JobState.ask_unlock.fn(st, vid)
    assert st.confirm_vid == vid and st.confirm_enough
    assert st.confirm_text == "This uses 1 credit. Balance after: 2 credits."
    assert st.confirm_ok == "Unlock for 1 credit"
    assert _unlock_charges() == 0  # nothing is spent by opening the dialog
    JobState.close_unlock.fn(st)
    assert st.confirm_vid == "" and _unlock_charges() == 0

    ru = _job_state(world, monkeypatch, locale="ru")
    assert ru.unlock_button == "Открыть в полном размере · 1 кредит"
    JobState.ask_unlock.fn(ru, vid)
    assert ru.confirm_text == "Спишем 1 кредит. На балансе останется 2 кредита."


def test_a_double_tap_spends_once_and_the_toast_says_what_is_left(world, monkeypatch):
    st = _job_state(world, monkeypatch, locale="ru")
    vid = world["vids"][1]
    JobState.ask_unlock.fn(st, vid)
    first = _drain(JobState.confirm_unlock.fn(st))
    second = _drain(JobState.confirm_unlock.fn(st))  # the second tap of a double tap
    assert "Открыто · осталось 2 кредита" in _spec_text(first)
    assert second == [] and _unlock_charges() == 1 and st.balance == 2
    card = next(v for v in st.variants if v["id"] == vid)
    # the clean image at once (the same event), "Готовим полный размер…" while the full size renders
    assert card["unlocked"] and card["rendering"] and card["clean"]
    assert "/clean_preview." in card["preview_url"] and card["fullres"] == fullres.PENDING
    assert st.unlocking == "" and st.confirm_vid == ""
    # a forged confirm without an open dialog spends nothing
    st.confirm_vid, st.confirm_enough = "", True
    assert _drain(JobState.confirm_unlock.fn(st)) == [] and _unlock_charges() == 1


def test_after_the_render_every_page_shows_the_clean_image_and_only_that_one(world, monkeypatch):
    vid, other = world["vids"][2], world["vids"][3]
    alice = _caller(world["alice"])
    app_variant.unlock(alice, vid)
    before = _keys(vid)
    # the clean rendition stored at generation is shown at once, while the full size is pending
    tile = next(t for t in app_job.get(alice, world["job"]).variants if t.id == vid)
    assert before.clean_preview_key.rsplit("/", 1)[1] in tile.preview_url and tile.clean
    assert tile.fullres == fullres.PENDING
    assert fullres.render(vid) == fullres.READY
    v = _keys(vid)
    assert v.clean_preview_key == before.clean_preview_key  # the card's image stays the same file

    def name(key: str) -> str:
        return key.rsplit("/", 1)[1]

    st = _job_state(world, monkeypatch)
    cards = {c["id"]: c for c in st.variants}
    assert cards[vid]["clean"] and name(v.clean_preview_key) in cards[vid]["preview_url"]
    assert not cards[other]["clean"] and name(v.clean_preview_key) not in cards[other]["preview_url"]
    assert all("thumb_url" not in c for c in st.variants)

    monkeypatch.setattr(VariantState, "_route_variant_id", lambda self: vid)
    page = _state(VariantState, token=world["alice_token"])
    _drain(VariantState.on_load.fn(page))
    assert page.v["clean"] and name(v.clean_preview_key) in page.v["preview_url"]
    assert page.v["full_size"] == f"Full size: {v.full_width}×{v.full_height} px"

    gal = _state(GalleryState, token=world["alice_token"])
    GalleryState.on_load.fn(gal)
    tiles = {t["id"]: t for t in gal.items}
    assert tiles[vid]["clean"] and name(v.clean_thumb_key) in tiles[vid]["thumb_url"]
    assert not tiles[other]["clean"] and "clean" not in tiles[other]["thumb_url"]

    dash = _state(DashboardState, token=world["alice_token"])
    DashboardState.on_load.fn(dash)
    thumbs = {t["id"]: t for t in dash.recent[0]["thumbs"]}
    assert set(thumbs) == set(world["vids"])
    assert thumbs[vid]["clean"] and name(v.clean_thumb_key) in thumbs[vid]["url"]
    assert [t["clean"] for k, t in thumbs.items() if k != vid] == [False, False, False]


def test_visitors_and_other_users_never_get_a_clean_key(world):
    vid = world["vids"][0]
    alice = _caller(world["alice"])
    app_variant.unlock(alice, vid)
    fullres.render(vid)
    v = _keys(vid)
    clean = {k.rsplit("/", 1)[1] for k in (v.clean_preview_key, v.clean_thumb_key, v.full_key, v.insta_key)}
    with session_scope() as s:
        bob_id = s.execute(select(User.id).where(User.email == "bob@example.com")).scalar_one()
    for caller in (_caller(bob_id), _caller(None), _caller(None, anon="alice-browser")):
        for call in (
            lambda c: app_job.get(c, world["job"]),
            lambda c: app_variant.get(c, vid),
            lambda c: app_gallery.search(c),
            lambda c: app_dashboard.load(c),
        ):
            try:
                text = repr(call(caller))
            except Exception as exc:  # noqa: BLE001 - refused: nothing was given
                text = repr(exc)
            assert not any(name in text for name in clean), (caller, text[:200])
    # the visitor's own job: only watermarked files
    view = app_job.get(_caller(None, anon="alice-browser"), world["anon_job"])
    assert view.variants and not any(t.clean for t in view.variants)


def test_with_zero_credits_the_dialog_offers_the_packs_and_spends_nothing(world, monkeypatch):
    with session_scope() as s:
        ledger.adjust(
            s, user_id=world["alice"], delta=-3, reason="test", actor="admin:0", idempotency_key="t0"
        )
    st = _job_state(world, monkeypatch, locale="ru")
    vid = world["vids"][0]
    JobState.ask_unlock.fn(st, vid)
    assert st.confirm_vid == vid and not st.confirm_enough
    assert st.confirm_text == "На балансе 0 кредитов, а для этого фото нужно 1 кредит."
    assert st.confirm_buy_href == f"/credits?next=/variant/{vid}"
    assert st.confirm_packs == "Пакеты — от 0,30\xa0$ за фото."
    assert _drain(JobState.confirm_unlock.fn(st)) == [] and _unlock_charges() == 0
    quote = app_variant.quote(_caller(world["alice"]), vid)
    assert (quote.cost, quote.available, quote.after, quote.enough) == (1, 0, -1, False)


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_the_variant_page_confirms_too(world, monkeypatch, locale):
    vid = world["vids"][3]
    monkeypatch.setattr(VariantState, "_route_variant_id", lambda self: vid)
    st = _state(VariantState, token=world["alice_token"], locale=locale)
    _drain(VariantState.on_load.fn(st))
    VariantState.ask_unlock.fn(st)
    assert st.confirm_vid == vid and _unlock_charges() == 0
    out = _drain(VariantState.confirm_unlock.fn(st))
    again = _drain(VariantState.confirm_unlock.fn(st))
    assert again == [] and _unlock_charges() == 1 and st.v["unlocked"] and st.v["rendering"]
    assert st.v["clean"] and "/clean_preview." in st.v["preview_url"] and st.balance == 2  # same event
    want = {"en": "Unlocked · 2 credits left", "ru": "Открыто · осталось 2 кредита"}[locale]
    assert want in _spec_text(out)
