"""Stripe Checkout and webhooks over real HTTP: the real ``stripe`` library against the stand-in,
signed webhooks into the app's own Starlette routes served by uvicorn on loopback."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from lashme.accounts import auth
from lashme.credits import ledger, ledger_check, payments, pricing
from lashme.models import LedgerEntry, LedgerKind, Order, OrderStatus, StripeEvent
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from tests.dbutil import count
from tests.fakes.stripe_server import API_KEY, WEBHOOK_SECRET, StripeStandIn


@pytest.fixture
def stripe_env(monkeypatch, api_url):
    with StripeStandIn(webhook_url=f"{api_url}/stripe/webhook") as standin:
        monkeypatch.setenv("STRIPE_SECRET_KEY", API_KEY)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("STRIPE_API_BASE", standin.base_url)
        get_settings.cache_clear()
        yield standin
    get_settings.cache_clear()


def _user(email="buyer@example.com") -> int:
    with session_scope() as s:
        return auth.sign_up(s, email=email, password="Secret123", signup_bonus=3).id


def _pack(code: str) -> int:
    with session_scope() as s:
        return next(p.id for p in pricing.active_packs(s) if p.code == code)


def _balance(uid: int) -> ledger.Balance:
    with session_scope() as s:
        return ledger.get_balance(s, uid)


def _purchases(uid: int) -> int:
    with session_scope() as s:
        return count(s, LedgerEntry, LedgerEntry.user_id == uid, LedgerEntry.kind == LedgerKind.PURCHASE)


def _checkout(standin, uid, code="pack_50") -> tuple[str, dict]:
    start = payments.start_checkout(user_id=uid, pack_id=_pack(code), origin="https://lashme.test")
    with session_scope() as s:
        order = s.get(Order, start.order_id)
        assert order.status == OrderStatus.PENDING
        sid = order.checkout_session_id
    assert start.url == f"{standin.base_url}/pay/{sid}"
    return start.order_id, standin.sessions[sid]


def test_checkout_session_is_created_with_the_pack_and_stored_as_pending_order(clean_db, stripe_env):
    uid = _user()
    order_id, cs = _checkout(stripe_env, uid, "pack_50")
    method, path, headers, params = stripe_env.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Idempotency-Key"] == f"order-{order_id}"
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == str(uid)
    assert params["metadata"] == {"order_id": order_id, "pack_id": str(_pack("pack_50")), "user_id": str(uid)}
    assert params["payment_intent_data"]["metadata"] == params["metadata"]
    item = params["line_items"][0]
    assert item["price_data"]["unit_amount"] == "1800" and item["price_data"]["currency"] == "usd"
    assert params["success_url"] == "https://lashme.test/credits/success?session_id={CHECKOUT_SESSION_ID}"
    assert params["cancel_url"] == "https://lashme.test/credits?canceled=1"
    assert cs["amount_total"] == 1800
    assert _balance(uid).total == 3  # nothing granted before payment


def test_same_event_ten_times_in_sequence_and_in_parallel_grants_once(clean_db, stripe_env):
    uid = _user()
    _, cs = _checkout(stripe_env, uid, "pack_10")
    event = stripe_env.event("checkout.session.completed", stripe_env.pay(cs["id"]))
    results = [stripe_env.deliver(event).json()["result"] for _ in range(10)]
    assert results == ["granted"] + ["duplicate"] * 9
    assert _balance(uid).total == 13

    _, cs2 = _checkout(stripe_env, uid, "pack_50")
    event2 = stripe_env.event("checkout.session.completed", stripe_env.pay(cs2["id"]))
    barrier = threading.Barrier(10)

    def send(_):
        barrier.wait()
        return stripe_env.deliver(event2)

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(send, range(10)))
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.json()["result"] for r in responses) == ["duplicate"] * 9 + ["granted"]
    assert _balance(uid).total == 63
    assert _purchases(uid) == 2
    with session_scope() as s:
        assert count(s, StripeEvent) == 2
        assert ledger_check.verify(s).ok


def test_same_session_under_two_event_ids_grants_once(clean_db, stripe_env):
    uid = _user()
    order_id, cs = _checkout(stripe_env, uid, "pack_10")
    paid = stripe_env.pay(cs["id"])
    first = stripe_env.deliver(stripe_env.event("checkout.session.completed", paid)).json()
    second = stripe_env.deliver(stripe_env.event("checkout.session.async_payment_succeeded", paid)).json()
    assert (first["result"], second["result"]) == ("granted", "already_fulfilled")
    assert _balance(uid).total == 13
    with session_scope() as s:
        order = s.get(Order, order_id)
        assert order.status == OrderStatus.PAID and order.payment_intent_id == paid["payment_intent"]
        assert {e.order_id for e in s.execute(select(StripeEvent)).scalars()} == {order_id}


def test_webhook_racing_the_success_page_grants_once(clean_db, stripe_env):
    uid = _user()
    for _ in range(5):
        _, cs = _checkout(stripe_env, uid, "pack_10")
        event = stripe_env.event("checkout.session.completed", stripe_env.pay(cs["id"]))
        barrier = threading.Barrier(2)

        def webhook(event=event, barrier=barrier):
            barrier.wait()
            return stripe_env.deliver(event).json()["result"]

        def success_page(sid=cs["id"], barrier=barrier):
            barrier.wait()
            return payments.confirm_checkout(user_id=uid, checkout_session_id=sid).result

        with ThreadPoolExecutor(2) as pool:
            a, b = pool.submit(webhook), pool.submit(success_page)
            outcomes = sorted([a.result(), b.result()])
        assert outcomes == ["already_fulfilled", "granted"], outcomes
    assert _balance(uid).total == 3 + 5 * 10
    assert _purchases(uid) == 5


def test_bad_signature_stale_timestamp_and_unknown_types_change_nothing(clean_db, stripe_env):
    uid = _user()
    _, cs = _checkout(stripe_env, uid, "pack_10")
    event = stripe_env.event("checkout.session.completed", stripe_env.pay(cs["id"]))
    payload = json.dumps(event)
    forged = stripe_env.sign(payload, secret="whsec_someone_else")
    assert stripe_env.deliver(event, signature=forged).status_code == 400
    stale = stripe_env.sign(payload, timestamp=int(time.time()) - 400)
    assert stripe_env.deliver(event, signature=stale).status_code == 400
    garbage = httpx.post(
        stripe_env.webhook_url, content=b"{not json", headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert garbage.status_code == 400
    assert _balance(uid).total == 3
    unknown = stripe_env.deliver(stripe_env.event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert (unknown.status_code, unknown.json()["result"]) == (200, "ignored")
    with session_scope() as s:
        assert [e.result for e in s.execute(select(StripeEvent)).scalars()] == ["ignored"]
    assert _balance(uid).total == 3
    # the genuine event still works afterwards
    assert stripe_env.deliver(event).json()["result"] == "granted"


def test_delayed_payment_grants_on_async_success_and_failure_marks_the_order(clean_db, stripe_env):
    uid = _user()
    _, cs = _checkout(stripe_env, uid, "pack_10")
    pending = stripe_env.pay(cs["id"], delayed=True)
    assert (
        stripe_env.deliver(stripe_env.event("checkout.session.completed", pending)).json()["result"]
        == "not_paid"
    )
    assert _balance(uid).total == 3
    paid = stripe_env.pay(cs["id"])
    ok = stripe_env.deliver(stripe_env.event("checkout.session.async_payment_succeeded", paid)).json()
    assert ok["result"] == "granted" and _balance(uid).total == 13

    order_id, cs2 = _checkout(stripe_env, uid, "pack_10")
    failed = stripe_env.pay(cs2["id"], delayed=True)
    r = stripe_env.deliver(stripe_env.event("checkout.session.async_payment_failed", failed)).json()
    assert r["result"] == "order_failed"
    with session_scope() as s:
        assert s.get(Order, order_id).status == OrderStatus.FAILED
    assert _balance(uid).total == 13


def test_refund_after_spending_takes_back_what_is_left_and_records_the_shortfall(clean_db, stripe_env):
    uid = _user()
    order_id, cs = _checkout(stripe_env, uid, "pack_10")
    stripe_env.deliver(stripe_env.event("checkout.session.completed", stripe_env.pay(cs["id"])))
    assert _balance(uid).total == 13
    with session_scope() as s:  # spend 7 of 13: 6 left
        ledger.post(s, user_id=uid, delta=-7, kind=LedgerKind.UNLOCK, reason="spent", idempotency_key="spend")
    half = stripe_env.refund_charge(cs["id"], 250)  # half the money back: 5 credits due, 6 available
    assert stripe_env.deliver(stripe_env.event("charge.refunded", half)).json()["result"] == "refunded"
    with session_scope() as s:
        order = s.get(Order, order_id)
        assert (order.status, order.refunded_cents, order.credits_clawed_back) == (
            OrderStatus.PARTIALLY_REFUNDED,
            250,
            5,
        )
        assert ledger.get_balance(s, uid).total == 1
    full = stripe_env.refund_charge(cs["id"], 500)  # the rest: 5 more due, only 1 left
    event_full = stripe_env.event("charge.refunded", full)
    assert stripe_env.deliver(event_full).json()["result"] == "refunded_with_shortfall"
    assert stripe_env.deliver(event_full).json()["result"] == "duplicate"
    with session_scope() as s:
        order = s.get(Order, order_id)
        assert order.status == OrderStatus.REFUNDED
        assert order.credits_clawed_back + order.clawback_shortfall == 10
        assert order.credits_clawed_back == 6 and order.clawback_shortfall == 4
        assert ledger.get_balance(s, uid).total == 0
        assert ledger_check.verify(s).ok


def test_success_page_refuses_another_users_session(clean_db, stripe_env):
    alice, mallory = _user("alice@example.com"), _user("mallory@example.com")
    _, cs = _checkout(stripe_env, alice, "pack_10")
    stripe_env.pay(cs["id"])
    with pytest.raises(payments.PaymentsError) as err:
        payments.confirm_checkout(user_id=mallory, checkout_session_id=cs["id"])
    assert err.value.key == "payments.not_found"
    assert _balance(mallory).total == 3 and _balance(alice).total == 3
    assert payments.confirm_checkout(user_id=alice, checkout_session_id=cs["id"]).result == "granted"
    assert _balance(alice).total == 13


def test_without_stripe_keys_nothing_pretends_to_charge(clean_db, api_url, monkeypatch):
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    uid = _user()
    assert not payments.is_configured()
    with pytest.raises(payments.PaymentsError) as err:
        payments.start_checkout(user_id=uid, pack_id=_pack("pack_10"), origin="https://x")
    assert err.value.key == "payments.not_configured"
    with session_scope() as s:
        assert count(s, Order) == 0
    assert httpx.post(f"{api_url}/stripe/webhook", content=b"{}").status_code == 404


def test_a_refund_before_fulfilment_is_retried_until_the_grant_and_then_applied(clean_db, stripe_env):
    uid = _user()
    order_id, cs = _checkout(stripe_env, uid, "pack_10")
    paid = stripe_env.pay(cs["id"])
    refund = stripe_env.event("charge.refunded", stripe_env.refund_charge(cs["id"], 500))
    assert stripe_env.deliver(refund).status_code == 500  # Stripe will deliver it again
    assert _balance(uid).total == 3
    assert (
        stripe_env.deliver(stripe_env.event("checkout.session.completed", paid)).json()["result"] == "granted"
    )
    assert stripe_env.deliver(refund).json()["result"] == "refunded"
    with session_scope() as s:
        order = s.get(Order, order_id)
        assert (order.status, order.credits_clawed_back, order.clawback_shortfall) == (
            OrderStatus.REFUNDED,
            10,
            0,
        )
        assert ledger.get_balance(s, uid).total == 3
        assert ledger_check.verify(s).ok
    # a charge that is not a LashMe payment is acknowledged and ignored
    foreign = {
        "id": "ch_x",
        "object": "charge",
        "amount": 100,
        "amount_refunded": 100,
        "payment_intent": "pi_x",
    }
    assert (
        stripe_env.deliver(stripe_env.event("charge.refunded", foreign)).json()["result"] == "unknown_order"
    )


def test_a_dispute_takes_back_the_pack_once(clean_db, stripe_env):
    uid = _user()
    order_id, cs = _checkout(stripe_env, uid, "pack_10")
    stripe_env.deliver(stripe_env.event("checkout.session.completed", stripe_env.pay(cs["id"])))
    event = stripe_env.event("charge.dispute.created", stripe_env.dispute(cs["id"]))
    assert stripe_env.deliver(event).json()["result"] == "disputed"
    assert stripe_env.deliver(event).json()["result"] == "duplicate"
    with session_scope() as s:
        assert s.get(Order, order_id).status == OrderStatus.DISPUTED
        assert ledger.get_balance(s, uid).total == 3
        assert ledger_check.verify(s).ok


def test_a_session_whose_amount_differs_from_the_order_is_not_granted(clean_db, stripe_env):
    uid = _user()
    order_id, cs = _checkout(stripe_env, uid, "pack_100")
    paid = dict(stripe_env.pay(cs["id"]), amount_total=1)
    assert (
        stripe_env.deliver(stripe_env.event("checkout.session.completed", paid)).json()["result"]
        == "mismatch"
    )
    assert _balance(uid).total == 3
    with session_scope() as s:
        assert s.get(Order, order_id).status == OrderStatus.PENDING


def test_checkout_creation_is_throttled_per_user(clean_db, stripe_env, redis_conn):
    from lashme.accounts.throttle import Throttled

    uid = _user()
    for _ in range(10):
        _checkout(stripe_env, uid, "pack_10")
    before = len(stripe_env.sessions)
    with pytest.raises(Throttled) as err:
        payments.start_checkout(user_id=uid, pack_id=_pack("pack_10"), origin="https://lashme.test")
    assert "Too many attempts" in err.value.message
    assert len(stripe_env.sessions) == before
    other = _user("other@example.com")
    _checkout(stripe_env, other, "pack_10")  # someone else is not affected
