"""Admin ops services: pricing (ledger-safe), payments lists, daily stats, queue figures."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import SimpleWorker, Worker
from sqlalchemy import select

from lashme.accounts import auth
from lashme.app.admin import payments as admin_payments
from lashme.app.admin import pricing as admin_pricing
from lashme.app.admin import queue as admin_queue
from lashme.app.admin import stats as admin_stats
from lashme.app.admin.guard import AdminRequired
from lashme.credits import ledger, ledger_check, payments, pricing, stripe_webhooks
from lashme.errors import DomainError, NotFound
from lashme.jobs import lifecycle as jobs
from lashme.jobs import uploads
from lashme.jobs.queue import get_queue
from lashme.models import (
    AdminAction,
    CreditPack,
    Job,
    JobStatus,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    PriceSetting,
    StripeEvent,
    Unlock,
    new_id,
)
from lashme.ops.db import session_scope
from lashme.ops.redis_server import free_port
from lashme.ops.settings import get_settings
from tests.dbutil import count
from tests.fakes.stripe_server import API_KEY, WEBHOOK_SECRET, StripeStandIn
from tests.photos import chelsea_jpeg


def _call(fn, actor, *args, **kwargs):
    with session_scope() as s:
        return fn(s, actor, *args, **kwargs)


def _rows_total(fn, actor, *args, **kwargs):
    """``(rows as a list, total)`` of a paged admin list's first page."""
    page = _call(fn, actor, *args, **kwargs)
    return list(page.items), page.total


def _audit(action: str) -> list[AdminAction]:
    with session_scope() as s:
        return list(
            s.execute(
                select(AdminAction).where(AdminAction.action == action).order_by(AdminAction.id)
            ).scalars()
        )


def _pack_id(code: str) -> int:
    with session_scope() as s:
        return s.execute(select(CreditPack.id).where(CreditPack.code == code)).scalar_one()


def _user(email: str, bonus: int = 10) -> int:
    with session_scope() as s:
        return auth.sign_up(s, email=email, password="Secret123", signup_bonus=bonus).id


# --- every service refuses visitors and normal users ------------------------------------------------------

SERVICES = [
    ("prices", admin_pricing.prices, (), {}),
    ("set_price", admin_pricing.set_price, ("unlock_cost", 7), {}),
    ("packs", admin_pricing.packs, (), {}),
    ("create_pack", admin_pricing.create_pack, (), {"code": "pack_x", "credits": 5, "price_cents": 300}),
    ("update_pack", admin_pricing.update_pack, ("PACK",), {"credits": 999}),
    ("orders", admin_payments.orders, (), {}),
    ("webhook_log", admin_payments.webhook_log, (), {}),
    ("webhook_filters", admin_payments.webhook_filters, (), {}),
    ("daily_stats", admin_stats.daily_stats, (7,), {}),
    ("overview", admin_stats.overview, (), {}),
    ("queue_figures", admin_queue.queue_figures, (), {}),
]


@pytest.mark.parametrize("name,fn,args,kwargs", SERVICES, ids=[s[0] for s in SERVICES])
def test_every_service_refuses_visitors_and_normal_users(staff, name, fn, args, kwargs):
    pack_10 = _pack_id("pack_10")
    args = tuple(pack_10 if a == "PACK" else a for a in args)
    for caller in (None, staff["alice"]):
        with pytest.raises(AdminRequired):
            _call(fn, caller, *args, **kwargs)
    with session_scope() as s:
        assert pricing.get_prices(s).unlock_cost == 1
        assert s.get(CreditPack, pack_10).credits == 10
        assert s.execute(select(CreditPack).where(CreditPack.code == "pack_x")).first() is None
        assert count(s, AdminAction) == 0


# --- prices ---------------------------------------------------------------------------------------------


def test_prices_lists_every_key_with_meaning_range_and_last_change(staff):
    rows = _call(admin_pricing.prices, staff["admin"])
    assert [r.key for r in rows] == list(pricing.PRICE_KEYS)
    by_key = {r.key: r for r in rows}
    assert (by_key["unlock_cost"].value, by_key["signup_bonus"].value, by_key["daily_limit_user"].value) == (
        1,
        3,
        20,
    )
    assert by_key["unlock_cost"].meaning == pricing.PRICE_KEYS["unlock_cost"][1]
    assert by_key["unlock_cost"].updated_by == "migration" and by_key["unlock_cost"].updated_at is not None
    assert (by_key["daily_limit_user"].min_value, by_key["daily_limit_user"].max_value) == (0, 10000)


@pytest.mark.parametrize(
    "key,value,error",
    [
        ("no_such_key", 1, "admin.pricing.unknown_key"),
        (["unlock_cost"], 1, "admin.pricing.unknown_key"),
        ("unlock_cost", -1, "admin.pricing.bad_value"),
        ("unlock_cost", 101, "admin.pricing.bad_value"),
        ("daily_limit_user", 10001, "admin.pricing.bad_value"),
        ("unlock_cost", True, "admin.pricing.bad_value"),
        ("unlock_cost", 1.5, "admin.pricing.bad_value"),
        ("unlock_cost", "2.5", "admin.pricing.bad_value"),
        ("unlock_cost", "two", "admin.pricing.bad_value"),
        ("unlock_cost", None, "admin.pricing.bad_value"),
    ],
)
def test_set_price_refuses_unknown_keys_and_out_of_range_values(staff, key, value, error):
    with pytest.raises(DomainError) as exc:
        _call(admin_pricing.set_price, staff["admin"], key, value)
    assert exc.value.key == error
    with session_scope() as s:
        assert pricing.get_prices(s) == pricing.Prices(1, 0, 3, 3, 20)
    assert _audit("set_price") == []


def test_set_price_changes_the_value_stamps_the_admin_and_audits_before_and_after(staff):
    row = _call(admin_pricing.set_price, staff["admin"], "unlock_cost", " 2 ")
    assert (row.value, row.updated_by) == (2, f"admin:{staff['admin']}")
    row = _call(admin_pricing.set_price, staff["super"], "daily_limit_anon", 0)
    assert row.value == 0
    with session_scope() as s:
        assert pricing.get_prices(s).unlock_cost == 2
        assert s.get(PriceSetting, "daily_limit_anon").updated_by == f"admin:{staff['super']}"
    audit = _audit("set_price")
    assert [(a.target_type, a.target_id, a.before, a.after) for a in audit] == [
        ("price", "unlock_cost", {"value": 1}, {"value": 2}),
        ("price", "daily_limit_anon", {"value": 3}, {"value": 0}),
    ]
    assert audit[0].actor_id == staff["admin"] and audit[0].actor_email == "ada@staff.example.com"
    _call(admin_pricing.set_price, staff["admin"], "unlock_cost", 2)  # no change: no audit row
    assert len(_audit("set_price")) == 2


def test_set_price_creates_a_missing_row(staff):
    with session_scope() as s:
        s.delete(s.get(PriceSetting, "signup_bonus"))
    assert {r.key: r.updated_by for r in _call(admin_pricing.prices, staff["admin"])}["signup_bonus"] is None
    _call(admin_pricing.set_price, staff["admin"], "signup_bonus", 3)
    with session_scope() as s:
        assert s.get(PriceSetting, "signup_bonus").value == 3
    assert [(a.before, a.after) for a in _audit("set_price")] == [({"value": 3}, {"value": 3})]


# --- packs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields,error",
    [
        ({"code": ""}, "admin.pricing.bad_code"),
        ({"code": "Pack 10!"}, "admin.pricing.bad_code"),
        ({"code": "x" * 33}, "admin.pricing.bad_code"),
        ({"code": 5}, "admin.pricing.bad_code"),
        ({"code": "pack_10"}, "admin.pricing.code_taken"),
        ({"credits": 0}, "admin.pricing.bad_credits"),
        ({"credits": 100_001}, "admin.pricing.bad_credits"),
        ({"credits": "ten"}, "admin.pricing.bad_credits"),
        ({"price_cents": 0}, "admin.pricing.bad_price"),
        ({"price_cents": -500}, "admin.pricing.bad_price"),
        ({"price_cents": 4.99}, "admin.pricing.bad_price"),
        ({"currency": "jpy"}, "admin.pricing.bad_currency"),
        ({"currency": None}, "admin.pricing.bad_currency"),
        ({"active": "yes"}, "admin.pricing.bad_flag"),
        ({"popular": 1}, "admin.pricing.bad_flag"),
        ({"sort_order": 1001}, "admin.pricing.bad_sort"),
    ],
)
def test_create_pack_validates_every_field(staff, fields, error):
    good = {"code": "pack_25", "credits": 25, "price_cents": 1000, "currency": "usd"}
    with pytest.raises(DomainError) as exc:
        _call(admin_pricing.create_pack, staff["admin"], **{**good, **fields})
    assert exc.value.key == error
    assert len(_call(admin_pricing.packs, staff["admin"])) == 3
    assert _audit("create_pack") == []


def test_create_and_update_pack_are_audited_and_inactive_packs_stay_listed(staff):
    row = _call(
        admin_pricing.create_pack,
        staff["admin"],
        code="Pack_25",
        credits="25",
        price_cents=1000,
        currency="EUR",
        popular=False,
        active=True,
        sort_order=5,
    )
    assert (row.code, row.credits, row.price_cents, row.currency, row.price) == (
        "pack_25",
        25,
        1000,
        "eur",
        "€10.00",
    )
    [created] = _audit("create_pack")
    assert (created.target_type, created.target_id, created.before) == ("pack", str(row.id), None)
    assert created.after == {
        "code": "pack_25",
        "credits": 25,
        "price_cents": 1000,
        "currency": "eur",
        "popular": False,
        "active": True,
        "sort_order": 5,
    }
    pid = _pack_id("pack_50")
    after = _call(
        admin_pricing.update_pack, staff["admin"], pid, credits=60, price_cents="2000", active=False
    )
    assert (after.credits, after.price_cents, after.active, after.popular) == (60, 2000, False, True)
    [updated] = _audit("update_pack")
    assert updated.before == {"credits": 50, "price_cents": 1800, "active": True}
    assert updated.after == {"credits": 60, "price_cents": 2000, "active": False}
    _call(admin_pricing.update_pack, staff["admin"], pid, credits=60, active=False)  # nothing differs
    assert len(_audit("update_pack")) == 1
    listed = {p.code: p for p in _call(admin_pricing.packs, staff["admin"])}
    assert set(listed) == {"pack_10", "pack_50", "pack_100", "pack_25"}
    assert listed["pack_50"].active is False
    with session_scope() as s:
        assert [p.code for p in pricing.active_packs(s)] == ["pack_10", "pack_100", "pack_25"]
        with pytest.raises(NotFound):
            pricing.get_active_pack(s, pid)


@pytest.mark.parametrize(
    "pack_id,fields,error",
    [
        (10**9, {"credits": 5}, "admin.pricing.pack_not_found"),
        ("1", {"credits": 5}, "admin.pricing.pack_not_found"),
        (None, {"credits": 5}, "admin.pricing.pack_not_found"),
        ("PACK", {"credits": 0}, "admin.pricing.bad_credits"),
        ("PACK", {"price_cents": 0}, "admin.pricing.bad_price"),
        ("PACK", {"price_cents": 10_000_001}, "admin.pricing.bad_price"),
        ("PACK", {"currency": "rub"}, "admin.pricing.bad_currency"),
        ("PACK", {"active": "false"}, "admin.pricing.bad_flag"),
        ("PACK", {"sort_order": -1}, "admin.pricing.bad_sort"),
    ],
)
def test_update_pack_validates_and_changes_nothing_on_error(staff, pack_id, fields, error):
    pack_10 = _pack_id("pack_10")
    pack_id = pack_10 if pack_id == "PACK" else pack_id
    with pytest.raises(DomainError) as exc:
        _call(admin_pricing.update_pack, staff["admin"], pack_id, **fields)
    assert exc.value.key == error
    with session_scope() as s:
        p = s.get(CreditPack, pack_10)
        assert (p.credits, p.price_cents, p.currency, p.active) == (10, 500, "usd", True)
    assert _audit("update_pack") == []


# --- ledger safety --------------------------------------------------------------------------------------


def test_a_price_change_does_not_touch_open_reservations(staff):
    _call(admin_pricing.set_price, staff["admin"], "generation_cost", 2)
    uid = _user("master@example.com", bonus=10)
    done_job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    failed_job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=10, held=4)
    _call(admin_pricing.set_price, staff["admin"], "generation_cost", 5)
    with session_scope() as s:
        assert s.get(Job, done_job.id).reserved_credits == 2
        assert ledger.open_reservation(s, done_job.id).amount == 2
        assert ledger.get_balance(s, uid) == ledger.Balance(total=10, held=4)
    with session_scope() as s:
        jobs.transition(s, done_job.id, JobStatus.PROCESSING)
        jobs.transition(s, done_job.id, JobStatus.DONE)
        jobs.transition(s, failed_job.id, JobStatus.PROCESSING)
        jobs.transition(s, failed_job.id, JobStatus.FAILED, error_key="generation.failed")
    with session_scope() as s:
        assert ledger.get_balance(s, uid) == ledger.Balance(total=8, held=0)
        settled = {
            (e.job_id, str(e.kind)): (e.delta, e.held_delta)
            for e in s.execute(select(LedgerEntry).where(LedgerEntry.user_id == uid)).scalars()
            if e.kind in (LedgerKind.CAPTURE, LedgerKind.RELEASE)
        }
        assert settled == {(done_job.id, "capture"): (-2, -2), (failed_job.id, "release"): (0, -2)}
        assert ledger_check.verify(s).ok
    new_job = uploads.submit_photo(chelsea_jpeg(), user_id=uid, anon_token=None, enqueue=False)
    assert new_job.reserved_credits == 5  # only new jobs pay the new price


@pytest.fixture
def stripe_standin(monkeypatch):
    with StripeStandIn() as standin:
        monkeypatch.setenv("STRIPE_SECRET_KEY", API_KEY)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("STRIPE_API_BASE", standin.base_url)
        get_settings.cache_clear()
        yield standin
    get_settings.cache_clear()


def _checkout(standin, uid: int, code: str) -> tuple[str, str]:
    start = payments.start_checkout(user_id=uid, pack_id=_pack_id(code), origin="https://lashme.test")
    with session_scope() as s:
        return start.order_id, s.get(Order, start.order_id).checkout_session_id


def test_a_pack_edit_does_not_change_a_pending_orders_fulfilment(staff, stripe_standin):
    uid = _user("buyer@example.com", bonus=3)
    order_id, sid = _checkout(stripe_standin, uid, "pack_50")
    _call(admin_pricing.update_pack, staff["admin"], _pack_id("pack_50"), credits=75, price_cents=2500)
    with session_scope() as s:
        order = s.get(Order, order_id)
        assert (order.credits, order.amount_cents, order.status) == (50, 1800, OrderStatus.PENDING)
    paid = stripe_standin.pay(sid)
    assert paid["amount_total"] == 1800
    result = stripe_webhooks.handle_event(stripe_standin.event("checkout.session.completed", paid))
    assert result == "granted"
    with session_scope() as s:
        assert ledger.get_balance(s, uid).total == 3 + 50
        order = s.get(Order, order_id)
        assert (order.credits, order.amount_cents, order.status) == (50, 1800, OrderStatus.PAID)
        assert ledger_check.verify(s).ok
    new_order, _ = _checkout(stripe_standin, uid, "pack_50")
    with session_scope() as s:
        assert (s.get(Order, new_order).credits, s.get(Order, new_order).amount_cents) == (75, 2500)


# --- payments -------------------------------------------------------------------------------------------


def _order(
    uid: int, *, status=OrderStatus.PAID, credits=50, amount=1800, currency="usd", created=None, **extra
):
    with session_scope() as s:
        o = Order(
            user_id=uid,
            pack_code=f"pack_{credits}",
            credits=credits,
            amount_cents=amount,
            currency=currency,
            status=status,
            **({"created_at": created} if created else {}),
            **extra,
        )
        s.add(o)
        s.flush()
        return o.id


def test_orders_lists_buyers_amounts_and_filters_by_status_and_email(staff):
    base = datetime(2025, 1, 1, tzinfo=UTC)
    bob = _user("Bob.Builder@Example.com")
    first = _order(staff["alice"], created=base, credited_at=base)
    second = _order(
        bob,
        status=OrderStatus.PARTIALLY_REFUNDED,
        credits=100,
        amount=3000,
        created=base + timedelta(hours=1),
        credited_at=base + timedelta(hours=1),
        refunded_cents=1500,
        credits_clawed_back=40,
        clawback_shortfall=10,
    )
    third = _order(bob, status=OrderStatus.PENDING, credits=10, amount=500, created=base + timedelta(hours=2))
    rows, total = _rows_total(admin_payments.orders, staff["admin"])
    assert total == 3 and [r.id for r in rows] == [third, second, first]
    r = rows[1]
    assert (r.email, r.pack_code, r.credits, r.amount, r.status) == (
        "bob.builder@example.com",
        "pack_100",
        100,
        "$30.00",
        "partially_refunded",
    )
    assert (r.refunded, r.credits_clawed_back, r.shortfall, r.credited_at) == ("$15.00", 40, 10, r.created_at)
    assert rows[0].credited_at is None
    rows, total = _rows_total(admin_payments.orders, staff["admin"], status="pending")
    assert (total, [r.id for r in rows]) == (1, [third])
    rows, total = _rows_total(admin_payments.orders, staff["admin"], email="BUILDER")
    assert (total, {r.id for r in rows}) == (2, {second, third})
    rows, total = _rows_total(admin_payments.orders, staff["admin"], email="%")
    assert (total, rows) == (0, [])
    page1 = _call(admin_payments.orders, staff["admin"], limit=2)
    page2 = _call(admin_payments.orders, staff["admin"], token=page1.next_token, limit=2)
    assert (page2.total, [r.id for r in page2.items], page2.next_token) == (3, [first], None)
    rows = _call(admin_payments.orders, staff["admin"], token="forged", limit=10**6).items
    assert len(rows) == 3
    for bad in ({"status": "bogus"}, {"status": 5}, {"email": "x" * 255}, {"email": 5}):
        with pytest.raises(DomainError) as exc:
            _call(admin_payments.orders, staff["admin"], **bad)
        assert exc.value.key == "admin.payments.bad_filter"


def test_webhook_log_shows_received_events_with_filters(staff):
    base = datetime(2025, 1, 1, tzinfo=UTC)
    with session_scope() as s:
        s.add(
            StripeEvent(
                id="evt_1",
                type="checkout.session.completed",
                order_id="o1",
                result="granted",
                received_at=base,
            )
        )
        s.add(
            StripeEvent(
                id="evt_2",
                type="checkout.session.completed",
                result="duplicate",
                detail="seen",
                received_at=base + timedelta(minutes=1),
            )
        )
        s.add(
            StripeEvent(
                id="evt_3", type="charge.refunded", result="ignored", received_at=base + timedelta(minutes=2)
            )
        )
    rows, total = _rows_total(admin_payments.webhook_log, staff["admin"])
    assert total == 3 and [r.id for r in rows] == ["evt_3", "evt_2", "evt_1"]
    assert (rows[2].type, rows[2].order_id, rows[2].result, rows[2].received_at) == (
        "checkout.session.completed",
        "o1",
        "granted",
        base,
    )
    assert rows[1].detail == "seen"
    rows, total = _rows_total(admin_payments.webhook_log, staff["admin"], type="checkout.session.completed")
    assert (total, [r.id for r in rows]) == (2, ["evt_2", "evt_1"])
    rows, total = _rows_total(
        admin_payments.webhook_log, staff["admin"], type="checkout.session.completed", result="granted"
    )
    assert [r.id for r in rows] == ["evt_1"]
    page1 = _call(admin_payments.webhook_log, staff["admin"], limit=2)
    page2 = _call(admin_payments.webhook_log, staff["admin"], token=page1.next_token, limit=2)
    assert (page2.total, [r.id for r in page2.items]) == (3, ["evt_1"])
    assert _call(admin_payments.webhook_filters, staff["admin"]) == (
        ["charge.refunded", "checkout.session.completed"],
        ["duplicate", "granted", "ignored"],
    )
    with pytest.raises(DomainError):
        _call(admin_payments.webhook_log, staff["admin"], type="t" * 65)


# --- stats ----------------------------------------------------------------------------------------------

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def _at(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, micro, tzinfo=UTC)


def _job(uid, created, *, status=JobStatus.PENDING, started=None, finished=None, cost=None) -> str:
    with session_scope() as s:
        job = Job(
            user_id=uid,
            provider="studio",
            presets=["natural"],
            original_key="x/original.jpg",
            original_width=800,
            original_height=600,
            status=status,
            created_at=created,
            updated_at=created,
            started_at=started,
            finished_at=finished,
            provider_cost_usd=cost,
        )
        s.add(job)
        s.flush()
        return job.id


def _unlock(uid, at):
    with session_scope() as s:
        s.add(Unlock(user_id=uid, variant_id=new_id(), created_at=at))


@pytest.fixture
def dataset(staff):
    """Jobs, unlocks and orders around the 7-day window ending on 2025-03-10 (UTC)."""
    uid = staff["alice"]
    # outside, just before the window
    _job(
        uid,
        _at(3, 23),
        status=JobStatus.DONE,
        started=_at(3, 23, 10),
        finished=_at(3, 23, 59, 59, 999999),
        cost=1.0,
    )
    _unlock(uid, _at(3, 23, 59, 59, 999999))
    _order(uid, credited_at=_at(3, 23, 59, 59), created=_at(3, 23))
    # 03-04: one job created exactly at the window's start
    _job(uid, _at(4))
    # 03-05: five done (10, 20, 30, 40, 100 s) and one failed
    for seconds in (10, 20, 30, 40, 100):
        start = _at(5, 9)
        _job(
            uid, _at(5, 8), status=JobStatus.DONE, started=start, finished=start + timedelta(seconds=seconds)
        )
    _job(uid, _at(5, 8), status=JobStatus.FAILED, started=_at(5, 9), finished=_at(5, 9, 5))
    # 03-06: nothing
    # 03-07 -> 03-08: created before midnight, done after (2400 s)
    _job(uid, _at(7, 23), status=JobStatus.DONE, started=_at(7, 23, 30), finished=_at(8, 0, 10), cost=0.12)
    # 03-08: still running (its cost counts on its creation day); a canceled job created long before
    _job(uid, _at(8, 6), status=JobStatus.PROCESSING, started=_at(8, 6, 1), cost=0.5)
    _job(uid, _at(1), status=JobStatus.CANCELED, finished=_at(8, 7))
    # 03-09: three unlocks, a USD and a EUR purchase, a pending order
    for minute in range(3):
        _unlock(uid, _at(9, 10, minute))
    _order(uid, credits=50, amount=1800, credited_at=_at(9, 10), created=_at(9, 9))
    _order(uid, credits=10, amount=500, currency="eur", credited_at=_at(9, 11), created=_at(9, 11))
    _order(uid, status=OrderStatus.PENDING, credits=100, amount=3000, created=_at(9, 12))
    # 03-10: the last moment of today counts; a refunded purchase still counts as sold
    _unlock(uid, _at(10, 23, 59, 59, 999999))
    _order(
        uid, status=OrderStatus.REFUNDED, credits=100, amount=3000, credited_at=_at(10, 9), created=_at(10, 8)
    )
    # after the window
    _unlock(uid, _at(11))
    _order(uid, credits=10, amount=500, credited_at=_at(11), created=_at(10, 23))
    _job(uid, _at(11), status=JobStatus.FAILED, started=_at(11), finished=_at(11, 0, 1), cost=2.0)
    return staff


def test_percentiles_interpolate_like_numpy():
    for data in ([10, 20, 30, 40, 100], [1.5, 2.5], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], list(range(1, 101))):
        p50, p95 = admin_stats.percentiles(data)
        assert p50 == pytest.approx(np.percentile(data, 50)) and p95 == pytest.approx(np.percentile(data, 95))
        assert p50 == pytest.approx(statistics.median(data))
    assert admin_stats.percentiles([]) == (None, None)
    assert admin_stats.percentiles([7.0]) == (7.0, 7.0)


def test_daily_stats_buckets_by_utc_day_with_zero_days_and_window_bounds(dataset):
    report = _call(admin_stats.daily_stats, dataset["admin"], 7, now=NOW)
    assert (report.days, report.first_day.isoformat(), report.last_day.isoformat()) == (
        7,
        "2025-03-04",
        "2025-03-10",
    )
    rows = {r.day.day: r for r in report.rows}
    assert [r.day.day for r in report.rows] == [4, 5, 6, 7, 8, 9, 10]
    assert [r.jobs for r in report.rows] == [1, 6, 0, 1, 1, 0, 0]
    assert [(r.done, r.failed) for r in report.rows] == [
        (0, 0),
        (5, 1),
        (0, 0),
        (0, 0),
        (1, 0),
        (0, 0),
        (0, 0),
    ]
    assert rows[5].success_rate == pytest.approx(5 / 6) and rows[8].success_rate == 1.0
    assert rows[4].success_rate is None and rows[4].p50_s is None and rows[4].p95_s is None
    assert (rows[5].p50_s, rows[5].p95_s) == (pytest.approx(30.0), pytest.approx(88.0))
    assert (rows[8].p50_s, rows[8].p95_s) == (2400.0, 2400.0)
    assert [r.unlocks for r in report.rows] == [0, 0, 0, 0, 0, 3, 1]
    assert [r.credits_sold for r in report.rows] == [0, 0, 0, 0, 0, 60, 100]
    assert rows[9].revenue == {"usd": 1800, "eur": 500} and rows[10].revenue == {"usd": 3000}
    assert [r.provider_cost_usd for r in report.rows] == pytest.approx([0, 0, 0, 0, 0.62, 0, 0])
    zero = rows[6]
    assert (zero.jobs, zero.done, zero.failed, zero.unlocks, zero.credits_sold, zero.revenue) == (
        0,
        0,
        0,
        0,
        0,
        {},
    )
    assert zero.success_rate is None and zero.provider_cost_usd == 0
    t = report.totals
    assert t.day is None
    assert (t.jobs, t.done, t.failed, t.unlocks, t.credits_sold) == (9, 6, 1, 4, 160)
    assert t.success_rate == pytest.approx(6 / 7)
    assert (t.p50_s, t.p95_s) == (
        pytest.approx(np.percentile([10, 20, 30, 40, 100, 2400], 50)),
        pytest.approx(np.percentile([10, 20, 30, 40, 100, 2400], 95)),
    )
    assert t.revenue == {"usd": 4800, "eur": 500} and report.currencies == ["usd", "eur"]
    assert t.provider_cost_usd == pytest.approx(0.62)


def test_daily_stats_longer_periods_and_refused_ranges(dataset):
    month = _call(admin_stats.daily_stats, dataset["admin"], 30, now=NOW)
    assert len(month.rows) == 30 and month.rows[0].day.isoformat() == "2025-02-09"
    assert month.rows[-1].day == NOW.date()
    # the days before the 7-day window add the job, unlock and order of 03-03
    assert (month.totals.jobs, month.totals.done, month.totals.unlocks, month.totals.credits_sold) == (
        11,
        7,
        5,
        210,
    )
    assert month.totals.provider_cost_usd == pytest.approx(1.62)
    assert len(_call(admin_stats.daily_stats, dataset["admin"], 90, now=NOW).rows) == 90
    # a non-UTC "now" is converted: 2025-03-11 01:00 in UTC+3 is still 03-10 in UTC
    shifted = _call(
        admin_stats.daily_stats,
        dataset["admin"],
        7,
        now=datetime(2025, 3, 11, 1, tzinfo=UTC) - timedelta(hours=3),
    )
    assert shifted.last_day.isoformat() == "2025-03-10"
    for bad in (0, 1, 14, 365, "7", True, None, 7.0):
        with pytest.raises(DomainError) as exc:
            _call(admin_stats.daily_stats, dataset["admin"], bad, now=NOW)
        assert exc.value.key == "admin.stats.bad_range"


def test_daily_stats_counts_todays_real_jobs(staff):
    report = _call(admin_stats.daily_stats, staff["admin"], 7)
    today = report.rows[-1]
    assert today.day == datetime.now(UTC).date()
    assert (today.jobs, today.done) == (2, 2)  # the world's two jobs, run just now
    assert today.p50_s is not None and today.p50_s >= 0


def test_overview_counts_users_todays_jobs_queue_and_a_weeks_revenue(staff, redis_conn):
    uid = staff["alice"]
    now = datetime.now(UTC)
    _job(uid, now, status=JobStatus.FAILED, started=now, finished=now)
    _order(uid, credited_at=now - timedelta(days=6), created=now - timedelta(days=6))
    _order(uid, credited_at=now - timedelta(days=8), created=now - timedelta(days=8))
    _order(uid, currency="eur", amount=700, credited_at=now, created=now)
    get_queue(redis_conn).enqueue("builtins.len", "abc")
    o = _call(admin_stats.overview, staff["admin"], connection=redis_conn)
    assert (o.users, o.jobs_today, o.failed_today, o.queued) == (4, 3, 1, 1)
    assert o.revenue_7d == {"usd": 1800, "eur": 700}
    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    assert _call(admin_stats.overview, staff["admin"], connection=down).queued is None


# --- queue ----------------------------------------------------------------------------------------------


def test_queue_figures_read_the_real_queue_and_workers(staff, redis_conn):
    q = get_queue(redis_conn)
    q.enqueue("builtins.len", "abc", result_ttl=600)
    q.enqueue("builtins.int", "not a number", failure_ttl=600)
    SimpleWorker([q], connection=redis_conn).work(burst=True)
    q.enqueue("builtins.len", "waiting")
    q.enqueue("builtins.len", "later", job_id="deferred-one", depends_on=q.enqueue("builtins.len", "first"))
    q.enqueue_in(timedelta(hours=1), "builtins.len", "scheduled")
    worker = Worker([q], connection=redis_conn, name="ops-test-worker")
    worker.register_birth()
    worker.set_state("busy")
    worker.set_current_job_id("generate-abc")
    worker.heartbeat()
    try:
        f = _call(admin_queue.queue_figures, staff["admin"], connection=redis_conn)
    finally:
        worker.register_death()
    assert f.available and f.error is None and f.queue == get_settings().queue_name
    assert (f.queued, f.started, f.failed, f.deferred, f.scheduled, f.finished) == (2, 0, 1, 1, 1, 1)
    [w] = f.workers
    assert (w.name, w.state, w.current_job_id, w.successful, w.failed) == (
        "ops-test-worker",
        "busy",
        "generate-abc",
        0,
        0,
    )
    assert w.last_heartbeat is not None and abs((datetime.now(UTC) - w.last_heartbeat).total_seconds()) < 60
    assert w.hostname and w.pid
    assert _call(admin_queue.queue_figures, staff["admin"], connection=redis_conn).workers == []


def test_queue_figures_report_an_unreachable_redis_instead_of_failing(staff):
    # no client retries: redis-py 7 retries 3 times with up to 10 s of back-off (8.5 s per refused command)
    down = Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_connect_timeout=1,
        socket_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    f = _call(admin_queue.queue_figures, staff["admin"], connection=down)
    assert (f.available, f.error, f.queued, f.workers) == (False, "ConnectionError", 0, [])
    assert admin_queue.queued_count(down) is None
