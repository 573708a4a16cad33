"""Admin pricing, payments, stats, queue and home page handlers, called directly as a visitor, a user and an admin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme.credits import pricing
from lashme.jobs.queue import get_queue, get_redis
from lashme.models import AdminAction, CreditPack, Order, OrderStatus, StripeEvent
from lashme.ops.db import session_scope
from lashme.ops.redis_server import free_port
from lashme.ops.settings import get_settings
from lashme.ui.admin.home import AdminHomeState
from lashme.ui.admin.ops_parts import major_units, minor_units
from lashme.ui.admin.payments import AdminPaymentsState
from lashme.ui.admin.pricing import AdminPricingState
from lashme.ui.admin.queue import AdminQueueState
from lashme.ui.admin.stats import AdminStatsState
from tests.dbutil import count
from tests.integration.app.test_handlers import _drain, _spec_text, _state

#: (state, its data vars, whether on_load is async)
PAGES = [
    (AdminPricingState, ("packs",), False),
    (AdminPaymentsState, ("orders", "events", "event_types"), False),
    (AdminStatsState, ("chart", "rows"), False),
    (AdminQueueState, ("workers", "queue_name"), True),
]


def _load(cls, st, is_async):
    out = cls.on_load.fn(st)
    return _drain(out) if is_async else out


@pytest.mark.parametrize("cls,data,is_async", PAGES, ids=[p[0].__name__ for p in PAGES])
def test_pages_send_visitors_to_sign_in_and_users_away_with_no_data(staff, cls, data, is_async):
    with session_scope() as s:
        s.add(
            Order(user_id=staff["alice"], pack_code="pack_10", credits=10, amount_cents=500, currency="usd")
        )
        s.add(StripeEvent(id="evt_1", type="checkout.session.expired", result="unknown_order"))
    visitor = _state(cls, anon="v")
    assert "/login?next=/admin/" in _spec_text(_load(cls, visitor, is_async))
    bob = _state(cls, token=staff["bob_token"])
    out = _spec_text(_load(cls, bob, is_async))
    assert "staff only" in out and "'/'" in out
    for st in (visitor, bob):
        assert all(not getattr(st, name) for name in data)
    admin = _state(cls, token=staff["admin_token"])
    assert _load(cls, admin, is_async) in (None, [])
    assert any(getattr(admin, name) for name in data)


def test_home_shows_live_figures_to_admins_only(staff, redis_conn):
    get_queue(redis_conn).enqueue("builtins.len", "abc")
    bob = _state(AdminHomeState, token=staff["bob_token"])
    assert "staff only" in _spec_text(_drain(AdminHomeState.on_load.fn(bob)))
    assert set(bob.figures.values()) == {""}
    admin = _state(AdminHomeState, token=staff["admin_token"])
    _drain(AdminHomeState.on_load.fn(admin))
    assert admin.figures == {
        "users": "4",
        "jobs_today": "2",
        "failed_today": "0",
        "queued": "1",
        "revenue_7d": "$0.00",
    }


def test_price_handlers_save_validated_values_and_refuse_users(staff):
    bob = _state(AdminPricingState, token=staff["bob_token"])
    bob.drafts = {**bob.drafts, "unlock_cost": "9"}
    assert "staff only" in _spec_text(AdminPricingState.save_price.fn(bob, "unlock_cost"))
    admin = _state(AdminPricingState, token=staff["admin_token"])
    AdminPricingState.on_load.fn(admin)
    assert admin.drafts["unlock_cost"] == "1" and admin.prices["unlock_cost"]["range"] == "0–100"
    AdminPricingState.set_draft.fn(admin, "unlock_cost", "101")
    assert "whole number from 0 to 100" in _spec_text(AdminPricingState.save_price.fn(admin, "unlock_cost"))
    AdminPricingState.set_draft.fn(admin, "no_such_key", "5")
    assert "no_such_key" not in admin.drafts
    assert "no such price" in _spec_text(AdminPricingState.save_price.fn(admin, "no_such_key"))
    AdminPricingState.set_draft.fn(admin, "unlock_cost", "2")
    assert "Saved" in _spec_text(AdminPricingState.save_price.fn(admin, "unlock_cost"))
    assert admin.prices["unlock_cost"]["value"] == "2"
    assert f"admin:{staff['admin']}" in admin.prices["unlock_cost"]["updated"]
    with session_scope() as s:
        assert pricing.get_prices(s).unlock_cost == 2
        assert count(s, AdminAction, AdminAction.action == "set_price") == 1


def test_pack_handlers_edit_inline_and_create_with_prices_in_major_units(staff):
    admin = _state(AdminPricingState, token=staff["admin_token"])
    AdminPricingState.on_load.fn(admin)
    pack = next(p for p in admin.packs if p["code"] == "pack_50")
    assert (pack["price"], pack["price_text"]) == ("$18.00", "18.00")
    AdminPricingState.start_edit.fn(admin, pack["id"])
    assert (admin.editing, admin.edit_credits, admin.edit_price, admin.edit_popular) == (
        pack["id"],
        "50",
        "18.00",
        True,
    )
    AdminPricingState.set_edit_field.fn(admin, "price", "19,50")
    AdminPricingState.set_edit_field.fn(admin, "editing", "999")  # not an edit field: ignored
    AdminPricingState.set_edit_flag.fn(admin, "active", False)
    assert "Pack pack_50 saved" in _spec_text(AdminPricingState.save_pack.fn(admin))
    assert admin.editing == 0
    with session_scope() as s:
        p = s.execute(select(CreditPack).where(CreditPack.code == "pack_50")).scalar_one()
        assert (p.credits, p.price_cents, p.active) == (50, 1950, False)
    out = AdminPricingState.create_pack.fn(admin, {"code": "pack_25", "credits": "25", "price": "abc"})
    assert "greater than zero" in _spec_text(out)
    out = AdminPricingState.create_pack.fn(
        admin, {"code": "pack_25", "credits": "25", "price": "12.5", "sort_order": "", "active": "on"}
    )
    assert "pack_25 added" in _spec_text(out)
    with session_scope() as s:
        p = s.execute(select(CreditPack).where(CreditPack.code == "pack_25")).scalar_one()
        assert (p.credits, p.price_cents, p.currency, p.active, p.popular) == (25, 1250, "usd", True, False)
    assert "pack_25" in [p["code"] for p in admin.packs]
    bob = _state(AdminPricingState, token=staff["bob_token"])
    bob.editing, bob.edit_price, bob.edit_credits = pack["id"], "1", "100000"
    assert "staff only" in _spec_text(AdminPricingState.save_pack.fn(bob))
    assert "staff only" in _spec_text(
        AdminPricingState.create_pack.fn(bob, {"code": "b", "credits": "1", "price": "1"})
    )
    with session_scope() as s:
        assert s.execute(select(CreditPack.credits).where(CreditPack.code == "pack_50")).scalar_one() == 50
        assert s.execute(select(CreditPack).where(CreditPack.code == "b")).first() is None


@pytest.mark.parametrize(
    "text,currency,minor",
    [("18", "usd", 1800), ("18.5", "usd", 1850), ("18,50", "eur", 1850), (" 0.01 ", "gbp", 1)],
)
def test_prices_typed_in_major_units(text, currency, minor):
    assert minor_units(text, currency) == minor
    assert minor_units(major_units(minor, currency), currency) == minor


@pytest.mark.parametrize("text", ["", "0", "-1", "1.005", "abc", "NaN", "Infinity", "1e3" * 10, None])
def test_bad_prices_are_refused(text):
    from lashme.errors import DomainError

    with pytest.raises(DomainError) as exc:
        minor_units(text, "usd")
    assert exc.value.key == "admin.pricing.bad_price"


def test_payment_handlers_filter_and_page(staff):
    with session_scope() as s:
        for i, status in enumerate((OrderStatus.PAID, OrderStatus.PENDING, OrderStatus.FAILED)):
            s.add(
                Order(
                    user_id=staff["alice"],
                    pack_code="pack_10",
                    credits=10,
                    amount_cents=500,
                    currency="usd",
                    status=status,
                    created_at=datetime(2025, 1, 1 + i, tzinfo=UTC),
                )
            )
    admin = _state(AdminPaymentsState, token=staff["admin_token"])
    AdminPaymentsState.on_load.fn(admin)
    assert admin.orders_total == 3 and admin.orders[0]["status"] == "failed"
    assert admin.orders[0]["email"] == "alice@example.com" and admin.orders[0]["amount"] == "$5.00"
    AdminPaymentsState.set_status_filter.fn(admin, "pending")
    assert [o["status"] for o in admin.orders] == ["pending"]
    AdminPaymentsState.set_status_filter.fn(admin, "'; drop table orders")
    assert admin.status_filter == "" and admin.orders_total == 3
    AdminPaymentsState.search_email.fn(admin, {"email": "nobody"})
    assert admin.orders == [] and admin.orders_total == 0
    AdminPaymentsState.search_email.fn(admin, {"email": "ALICE"})
    assert admin.orders_total == 3
    AdminPaymentsState.older_orders.fn(admin)  # all three fit on one page: nothing older
    assert (admin.orders_page_no, admin.orders_has_prev, admin.orders_has_next) == (1, False, False)
    assert admin.orders_total == 3
    AdminPaymentsState.set_type_filter.fn(admin, "not.a.seen.type")
    assert admin.type_filter == ""
    bob = _state(AdminPaymentsState, token=staff["bob_token"])
    assert "staff only" in _spec_text(AdminPaymentsState.search_email.fn(bob, {"email": ""}))
    assert bob.orders == []


def test_stats_handlers_switch_ranges_and_refuse_others(staff):
    admin = _state(AdminStatsState, token=staff["admin_token"])
    AdminStatsState.on_load.fn(admin)
    assert (admin.days, len(admin.chart), len(admin.rows)) == ("30", 30, 30)
    assert admin.rows[0]["day"] == datetime.now(UTC).date().isoformat() and admin.rows[0]["jobs"] == "2"
    assert admin.totals["day"] == "Total" and admin.totals["success"] == "100%"
    AdminStatsState.set_days.fn(admin, "7")
    assert (admin.days, len(admin.chart)) == ("7", 7)
    assert "Choose 7, 30 or 90 days" in _spec_text(AdminStatsState.set_days.fn(admin, "14"))
    assert (admin.days, len(admin.chart)) == ("7", 7)
    bob = _state(AdminStatsState, token=staff["bob_token"])
    assert "staff only" in _spec_text(AdminStatsState.set_days.fn(bob, "90"))
    assert bob.chart == [] and bob.rows == []


def test_queue_page_reads_redis_and_says_when_it_is_unreachable(staff, redis_conn, monkeypatch):
    get_queue(redis_conn).enqueue("builtins.len", "abc")
    admin = _state(AdminQueueState, token=staff["admin_token"])
    _drain(AdminQueueState.on_load.fn(admin))
    assert admin.available and admin.figures["queued"] == 1 and admin.queue_name == get_settings().queue_name
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    get_redis.cache_clear()
    try:
        _drain(AdminQueueState.refresh.fn(admin))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        get_redis.cache_clear()
    assert not admin.available and "Redis is not answering" in admin.error
    assert admin.figures["queued"] == 0 and not admin.loading
    bob = _state(AdminQueueState, token=staff["bob_token"])
    assert "staff only" in _spec_text(_drain(AdminQueueState.refresh.fn(bob)))
    assert bob.queue_name == "" and bob.workers == []


#: every handler of the ops pages with sample arguments a browser could send
HANDLER_ARGS = {
    AdminPricingState: {
        "on_load": (),
        "set_draft": ("unlock_cost", "9"),
        "save_price": ("unlock_cost",),
        "start_edit": ("PACK",),
        "cancel_edit": (),
        "set_edit_field": ("price", "1"),
        "set_edit_flag": ("active", False),
        "save_pack": (),
        "set_new_currency": ("eur",),
        "set_new_flag": ("popular", True),
        "create_pack": ({"code": "pack_x", "credits": "1", "price": "1", "active": "on"},),
    },
    AdminPaymentsState: {
        "on_load": (),
        "set_status_filter": ("paid",),
        "search_email": ({"email": "alice"},),
        "older_orders": (),
        "newer_orders": (),
        "set_type_filter": ("checkout.session.completed",),
        "set_result_filter": ("granted",),
        "older_events": (),
        "newer_events": (),
    },
    AdminStatsState: {"on_load": (), "set_days": ("7",)},
    AdminQueueState: {"on_load": (), "refresh": ()},
    AdminHomeState: {"on_load": ()},
}


def _own_vars(cls, st) -> dict:
    from lashme.ui.admin.state import AdminState

    return {name: getattr(st, name) for name in set(cls.base_vars) - set(AdminState.base_vars)}


@pytest.mark.parametrize("cls", list(HANDLER_ARGS), ids=[c.__name__ for c in HANDLER_ARGS])
def test_every_handler_called_by_a_visitor_or_user_changes_nothing(staff, cls):
    from lashme.ui.admin.state import AdminState

    assert set(cls.event_handlers) - set(AdminState.event_handlers) == set(HANDLER_ARGS[cls])
    with session_scope() as s:
        pack_id = s.execute(select(CreditPack.id).where(CreditPack.code == "pack_10")).scalar_one()
        prices_before = pricing.get_prices(s)
    for token in ("", staff["bob_token"]):
        st = _state(cls, token=token, anon="v")
        before = _own_vars(cls, st)
        for name, args in HANDLER_ARGS[cls].items():
            args = tuple(pack_id if a == "PACK" else a for a in args)
            out = getattr(cls, name).fn(st, *args)
            if hasattr(out, "__aiter__"):
                out = _drain(out)
            assert _own_vars(cls, st) == before, name
    with session_scope() as s:
        assert pricing.get_prices(s) == prices_before
        assert s.execute(select(CreditPack).where(CreditPack.code == "pack_x")).first() is None
        assert count(s, AdminAction) == 0
