"""Stripe webhooks: signed timestamps outside ±5 min are refused (future ones too); ``refund.failed``
gives back what the refund took, once."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from lashme.accounts import auth
from lashme.credits import ledger, ledger_check, payments, stripe_webhooks
from lashme.models import Order, OrderStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

SECRET = "whsec_security_tests"


def _paid_order(email: str, *, spend: int = 0) -> tuple[int, str, str]:
    """A user with a paid 10-credit order ($5.00); ``spend`` credits then used. Returns (uid, order, pi)."""
    with session_scope() as s:
        uid = auth.sign_up(s, email=email, password="Secret123", signup_bonus=0).id
        order = Order(user_id=uid, pack_code="pack_10", credits=10, amount_cents=500, currency="usd")
        s.add(order)
        s.flush()
        oid, sid, pi = order.id, f"cs_{order.id}", f"pi_{order.id}"
        order.checkout_session_id = sid
        cs = {
            "id": sid,
            "payment_status": "paid",
            "payment_intent": pi,
            "client_reference_id": str(uid),
            "metadata": {"order_id": oid},
            "amount_total": 500,
            "currency": "usd",
        }
        assert payments.fulfil_checkout_session(s, cs, source="test").result == "granted"
        if spend:
            ledger.adjust(
                s, user_id=uid, delta=-spend, reason="spent", actor="test", idempotency_key=f"spend:{uid}"
            )
    return uid, oid, pi


def _event(kind: str, obj: dict) -> dict:
    return {"id": f"evt_{kind}_{obj['id']}_{time.monotonic_ns()}", "type": kind, "data": {"object": obj}}


def _charge(pi: str, refunded: int) -> dict:
    return {
        "id": f"ch_{pi}",
        "object": "charge",
        "amount": 500,
        "amount_refunded": refunded,
        "payment_intent": pi,
    }


def _refund(pi: str, rid: str, amount: int) -> dict:
    return {"id": rid, "object": "refund", "amount": amount, "payment_intent": pi, "status": "failed"}


def _state(uid: int, oid: str) -> tuple[int, str, int, int, int]:
    with session_scope() as s:
        order = s.get(Order, oid)
        return (
            ledger.get_balance(s, uid).total,
            str(order.status),
            order.refunded_cents,
            order.credits_clawed_back,
            order.clawback_shortfall,
        )


def test_failed_refund_restores_what_the_refund_took_once(clean_db):
    uid, oid, pi = _paid_order("refund-fails@example.com")
    assert stripe_webhooks.handle_event(_event("charge.refunded", _charge(pi, 250))) == "refunded"
    assert _state(uid, oid) == (5, OrderStatus.PARTIALLY_REFUNDED, 250, 5, 0)
    failed = _event("refund.failed", _refund(pi, "re_1", 250))
    assert stripe_webhooks.handle_event(failed) == "refund_reversed"
    assert _state(uid, oid) == (10, OrderStatus.PAID, 0, 0, 0)
    # the same event again, and the same refund under another event id: nothing more
    assert stripe_webhooks.handle_event(failed) == "duplicate"
    assert stripe_webhooks.handle_event(_event("refund.failed", _refund(pi, "re_1", 250))) == "no_change"
    assert _state(uid, oid) == (10, OrderStatus.PAID, 0, 0, 0)
    with session_scope() as s:
        entry = ledger.find_entry(s, "refund_failed:re_1")
        assert (entry.delta, entry.order_id) == (5, oid)
    # a new refund of the same total afterwards is taken again (its ledger key does not collide)
    assert stripe_webhooks.handle_event(_event("charge.refunded", _charge(pi, 250))) == "refunded"
    assert _state(uid, oid) == (5, OrderStatus.PARTIALLY_REFUNDED, 250, 5, 0)
    with session_scope() as s:
        assert ledger_check.verify(s).ok


def test_failed_refund_first_forgives_the_shortfall(clean_db):
    uid, oid, pi = _paid_order("spent-it@example.com", spend=8)  # 2 left of 10
    result = stripe_webhooks.handle_event(_event("charge.refunded", _charge(pi, 500)))
    assert result == "refunded_with_shortfall"
    assert _state(uid, oid) == (0, OrderStatus.REFUNDED, 500, 2, 8)
    assert (
        stripe_webhooks.handle_event(_event("refund.failed", _refund(pi, "re_all", 500))) == "refund_reversed"
    )
    assert _state(uid, oid) == (2, OrderStatus.PAID, 0, 0, 0)  # the 2 taken are back, the 8 owed forgiven


def test_refund_failed_for_an_unknown_payment_is_ignored(clean_db):
    result = stripe_webhooks.handle_event(_event("refund.failed", _refund("pi_nobody", "re_x", 100)))
    assert result == "unknown_order"


@pytest.fixture
def webhook_client(monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    app = Starlette(routes=[Route("/stripe/webhook", stripe_webhooks.webhook_endpoint, methods=["POST"])])
    with TestClient(app) as client:
        yield client
    get_settings.cache_clear()


def _post(client: TestClient, payload: str, timestamp: int):
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", SECRET)
    return client.post(
        "/stripe/webhook", content=payload, headers={"Stripe-Signature": f"t={timestamp},v1={signature}"}
    )


@pytest.mark.parametrize(
    ("offset", "status"),
    [(-3600, 400), (-301, 400), (-290, 200), (0, 200), (290, 200), (301, 400), (3600, 400)],
)
def test_signed_timestamps_outside_five_minutes_are_refused_both_ways(
    clean_db, webhook_client, offset, status
):
    event = {"id": f"evt_ts_{offset}", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    response = _post(webhook_client, json.dumps(event), int(time.time()) + offset)
    assert response.status_code == status


def test_timestamp_parser_refuses_malformed_headers():
    now = 1_700_000_000
    assert stripe_webhooks.timestamp_fresh(f"t={now},v1=ab", now=now)
    for header in (None, "", "v1=ab", "t=abc,v1=ab", f"t={now},t={now},v1=ab", f"t={now + 301},v1=ab"):
        assert not stripe_webhooks.timestamp_fresh(header, now=now)
