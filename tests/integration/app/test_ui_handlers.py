"""Gallery, variant, dashboard and language handlers called directly, as the owner, another user and a visitor."""

from __future__ import annotations

import re

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme import i18n
from lashme.accounts import auth
from lashme.jobs import fullres
from lashme.jobs.lifecycle import variants_of
from lashme.models import Job, LedgerEntry, Unlock, User, Variant
from lashme.ops.db import session_scope
from lashme.ui.pages.dashboard import DashboardState
from lashme.ui.pages.gallery import GalleryState
from lashme.ui.pages.variant_state import VariantState
from lashme.ui.state import SessionState
from tests.dbutil import count
from tests.integration.app.test_handlers import _drain, _route, _spec_text, _state


def test_gallery_state_holds_only_the_callers_tiles(world):
    visitor = _state(GalleryState, anon="v")
    assert "/login" in _spec_text(GalleryState.on_load.fn(visitor)) and visitor.items == []
    bob = _state(GalleryState, token=world["bob_token"])
    GalleryState.on_load.fn(bob)
    assert bob.items == [] and bob.total == 0
    alice = _state(GalleryState, token=world["alice_token"])
    GalleryState.on_load.fn(alice)
    assert [t["id"] for t in alice.items] == world["vids"]
    assert all(re.search(r"/thumb(\.r\d+)?\.jpg", t["thumb_url"]) for t in alice.items)
    assert not any("full.jpg" in t["thumb_url"] or "preview.jpg" in t["thumb_url"] for t in alice.items)
    GalleryState.set_sort_order.fn(alice, "'; drop table jobs")
    assert alice.sort == "newest"
    # filters live in the URL: a search goes to /gallery?q=…, whose on_load shows the tiles
    out = GalleryState.run_search.fn(alice, {"q": "crisp"})
    assert "/gallery?q=crisp" in _spec_text(out)
    _route(alice, "/gallery?q=crisp&sort=bogus&page=x")
    GalleryState.on_load.fn(alice)
    assert [t["label"] for t in alice.items] == ["Crisp detail"]
    assert (alice.search, alice.sort, alice.pages) == ("crisp", "newest", 1)


def test_favorite_and_delete_refuse_other_peoples_variants(world):
    vid = world["vids"][0]
    bob = _state(GalleryState, token=world["bob_token"])
    GalleryState.on_load.fn(bob)
    out = _drain(GalleryState.toggle_favorite.fn(bob, vid))
    assert "does not exist or is not yours" in _spec_text(out)
    bob.confirm_kind, bob.confirm_id = "variant", vid
    out = _drain(GalleryState.confirm_delete.fn(bob))
    assert "does not exist or is not yours" in _spec_text(out)
    bob.confirm_kind, bob.confirm_id = "job", world["job"]
    _drain(GalleryState.confirm_delete.fn(bob))
    with session_scope() as s:
        assert count(s, Variant, Variant.job_id == world["job"]) == 4
        assert not any(v.favorite for v in variants_of(s, world["job"]))
    alice = _state(GalleryState, token=world["alice_token"])
    GalleryState.on_load.fn(alice)
    _drain(GalleryState.toggle_favorite.fn(alice, vid))
    assert alice.items[0]["favorite"] is True
    GalleryState.ask_delete.fn(alice, vid, world["job"])
    assert (alice.confirm_kind, alice.confirm_id) == ("variant", vid)
    _drain(GalleryState.confirm_delete.fn(alice))
    assert vid not in [t["id"] for t in alice.items] and len(alice.items) == 3


def test_variant_page_and_downloads_are_the_owners_only(world, monkeypatch):
    vid = world["vids"][1]
    monkeypatch.setattr(VariantState, "_route_variant_id", lambda self: vid)
    bob = _state(VariantState, token=world["bob_token"])
    _drain(VariantState.on_load.fn(bob))
    assert bob.not_found and bob.v == {}
    bob.v = {"id": vid, "job_id": world["job"]}  # a forged client-side state changes nothing
    assert "/files/" not in _spec_text(VariantState.download.fn(bob, "full"))
    assert "/dl/variant/" not in _spec_text(VariantState.download.fn(bob, "full"))
    assert "/dl/zip/" not in _spec_text(_drain(VariantState.download_zip.fn(bob)))
    _drain(VariantState.unlock.fn(bob))
    with session_scope() as s:  # bob's forged unlock charged nothing and unlocked nothing
        assert count(s, Unlock) == 0
        assert count(s, LedgerEntry, LedgerEntry.kind == "unlock") == 0
    visitor = _state(VariantState, anon="x")
    assert "/login" in _spec_text(_drain(VariantState.on_load.fn(visitor)))

    alice = _state(VariantState, token=world["alice_token"])
    _drain(VariantState.on_load.fn(alice))
    assert not alice.not_found and alice.v["id"] == vid and not alice.v["unlocked"]
    assert "original_preview.jpg" in alice.v["before_url"]
    assert re.search(r"/preview(\.r\d+)?\.jpg", alice.v["preview_url"])
    assert "unlock at least one" in _spec_text(_drain(VariantState.download_zip.fn(alice))).lower()
    _drain(VariantState.unlock.fn(alice))
    assert alice.v["unlocked"] and alice.balance == 2
    fullres.render(vid)  # the worker's step after an unlock: the full-size files and crops
    assert "/dl/zip/" in _spec_text(_drain(VariantState.download_zip.fn(alice)))
    assert f"/dl/variant/{vid}/insta?" in _spec_text(VariantState.download.fn(alice, "insta"))
    VariantState.save_note.fn(alice, {"note": "  Anna   volume  "})
    with session_scope() as s:
        assert s.get(Job, world["job"]).note == "Anna volume"


def test_dashboard_cancel_and_retry_refuse_other_users(world):
    bob = _state(DashboardState, token=world["bob_token"])
    DashboardState.on_load.fn(bob)
    assert bob.recent == []
    out = _drain(DashboardState.cancel.fn(bob, world["job"]))
    assert "does not exist or is not yours" in _spec_text(out)
    alice = _state(DashboardState, token=world["alice_token"])
    DashboardState.on_load.fn(alice)
    assert [j["id"] for j in alice.recent] == [world["job"]]
    assert alice.recent[0]["stage"] == "4 variants ready"
    out = _drain(DashboardState.cancel.fn(alice, world["job"]))
    assert "already finished and cannot be canceled" in _spec_text(out)
    assert alice.ledger_rows[0]["kind"] == "Welcome bonus"


def test_language_is_remembered_per_user_and_translates_errors(world):
    st = _state(SessionState, token=world["alice_token"])
    SessionState.set_language.fn(st, "ru-RU")
    assert st.locale == "ru" and st.t["nav.gallery"] == "Галерея"
    SessionState.set_language.fn(st, "klingon")
    assert st.locale == "ru"
    assert "reload" in _spec_text(SessionState.toggle_language.fn(st))
    assert st.locale == "en"
    SessionState.toggle_language.fn(st)
    assert st.locale == "ru"
    with session_scope() as s:
        assert s.get(User, world["alice"]).locale == "ru"
    # a new browser of the same user (no cookie, English browser) gets Russian from the account
    gal = _state(GalleryState, token=world["alice_token"])
    GalleryState.on_load.fn(gal)
    assert gal.locale == "ru" and gal.items[0]["label"] == i18n.translate("preset.natural", "ru")
    bob = _state(VariantState, token=world["bob_token"])
    bob.locale = "ru"
    bob.v = {"id": world["vids"][0], "job_id": world["job"]}
    assert "не ваш" in _spec_text(VariantState.download.fn(bob, "full"))


def test_sign_out_leaves_nothing_of_the_user_in_any_page_state(world):
    alice = _state(GalleryState, token=world["alice_token"], anon="tablet")
    GalleryState.on_load.fn(alice)
    assert alice.items
    session = alice.parent_state
    assert isinstance(session, SessionState)
    SessionState.sign_out.fn(session)
    assert alice.items == [] and session.user_email == ""
    assert "auth_token" not in SessionState.base_vars  # the session lives in an HttpOnly cookie only
    assert session.anon_token == "tablet"  # the browser keeps its own visitor token
    with session_scope() as s:
        assert auth.user_for_token(s, world["alice_token"]) is None


def test_ledger_page_sizes_from_a_client_are_clamped():
    from lashme.app.paging import clamp_limit

    assert [clamp_limit(v) for v in (2, "3", 999, -5, None, "x", float("inf"), float("nan"))] == [
        2,
        3,
        200,
        1,
        25,
        25,
        25,
        25,
    ]


def test_ledger_rows_are_in_the_readers_language_but_keep_what_an_admin_wrote(world):
    from lashme.app import credits as app_credits
    from lashme.app.caller import from_verified_user
    from lashme.credits import ledger
    from lashme.ui.ledger_rows import page_rows

    with session_scope() as s:
        ledger.adjust(
            s,
            user_id=world["alice"],
            delta=2,
            reason="Sorry for the wait",
            actor="admin:1",
            idempotency_key="a1",
        )
    page = app_credits.history(from_verified_user(world["alice"]), page_size=10)
    rows = page_rows(page, "ru")
    assert (page.next_page_token, page.prev_page_token, page.total) == (None, None, 2)
    assert [(r["delta"], r["reason"]) for r in rows] == [
        ("+2", "Sorry for the wait"),
        ("+3", "Бесплатные кредиты за регистрацию"),
    ]


def test_a_session_ended_elsewhere_clears_the_tab_on_the_next_page_load(world):
    alice = _state(GalleryState, token=world["alice_token"], anon="tablet")
    GalleryState.on_load.fn(alice)
    assert alice.items and alice.user_email == "alice@example.com"
    with session_scope() as s:  # e.g. signed out on another device, or expired
        auth.end_session(s, world["alice_token"])
    assert "/login" in _spec_text(GalleryState.on_load.fn(alice))
    assert alice.items == [] and alice.user_email == "" and alice.anon_token == "tablet"
