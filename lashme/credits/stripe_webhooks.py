"""Stripe webhook events: verify, log once per event id, dispatch, answer.

Signature check: ``stripe.Webhook.construct_event`` on the raw body with
``STRIPE_WEBHOOK_SECRET`` (HMAC-SHA256 ``Stripe-Signature`` scheme, 300 s
tolerance; https://docs.stripe.com/webhooks#verify-events).  The library only
refuses timestamps older than the tolerance, so :func:`timestamp_fresh` also
refuses ones more than :data:`TOLERANCE` seconds in the future (a captured
signature with a forged future ``t`` is the same replay).  Bad signatures and
timestamps outside ±5 min get 400 and change nothing.  Every verified event is
stored in ``stripe_events`` (id, type, result) in the same transaction as its
effect; a replayed event id finds its row and does nothing.

Handled types:

- ``checkout.session.completed``: grant when ``payment_status`` is ``paid``.
- ``checkout.session.async_payment_succeeded``: grant.
- ``checkout.session.async_payment_failed`` / ``checkout.session.expired``: order FAILED.
- ``charge.refunded``: take back the refunded share of the order's credits
  (``floor(credits × amount_refunded / amount)`` in total), never below zero
  available; what could not be taken is added to ``orders.clawback_shortfall``.
  A refund that arrives before its payment was fulfilled is answered 500 so
  Stripe delivers it again after the grant (events are not ordered).
- ``charge.dispute.created``: take back every credit of the order not yet
  taken back (same never-below-zero rule); the order becomes ``disputed``.
- ``refund.failed``: a refund did not go through, so the money stays with us:
  the refunded total drops by the refund's amount and what the refund took is
  given back (first the unrecovered shortfall is forgiven, then credits are
  granted with ledger key ``refund_failed:{refund id}``); a disputed order keeps
  its dispute's clawback.

Anything else is logged as ``ignored`` with 200, as Stripe expects.
"""

from __future__ import annotations

import json
import logging
import time

import stripe
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lashme.credits import ledger, payments
from lashme.models import LedgerEntry, LedgerKind, Order, OrderStatus, StripeEvent, utcnow
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

log = logging.getLogger(__name__)
MAX_BODY = 512 * 1024
#: seconds a webhook's signed timestamp may differ from our clock, either way
TOLERANCE = 300


class RetryLater(Exception):
    """The event cannot be applied yet (e.g. a refund before its payment); answer 500 so Stripe retries."""


def _grant(s: Session, obj: dict, event_id: str) -> tuple[str, str | None]:
    f = payments.fulfil_checkout_session(s, obj, source=f"webhook:{event_id}")
    return f.result, f.order_id


def _fail_order(s: Session, obj: dict, reason: str) -> tuple[str, str | None]:
    order = payments.find_order_for_session(s, obj)
    if order is None:
        return "unknown_order", None
    if order.status == OrderStatus.PENDING:
        order.status, order.failure_reason, order.updated_at = OrderStatus.FAILED, reason, utcnow()
        s.add(order)
        return "order_failed", order.id
    return "no_change", order.id


def _paid_order_for_charge(s: Session, charge: dict) -> Order | None:
    """The fulfilled order a charge paid for; RetryLater if it is ours but not fulfilled yet."""
    pi = charge.get("payment_intent")
    order = payments.lock_order(s, payment_intent_id=pi) if pi else None
    if order is None:
        order_id = str((charge.get("metadata") or {}).get("order_id") or "")[:32]
        order = payments.lock_order(s, id=order_id) if order_id else None
        if order is None:
            return None  # not a LashMe payment
    if order.status not in payments.PAID_STATUSES:
        raise RetryLater(f"charge event for order {order.id} before its payment was fulfilled")
    return order


def _restorations(s: Session, order_id: str) -> int:
    """How many failed refunds gave credits back on this order (keeps later refund keys unique)."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.order_id == order_id, LedgerEntry.idempotency_key.like("refund_failed:%"))
        )
        or 0
    )


def _refund(s: Session, charge: dict) -> tuple[str, str | None]:
    order = _paid_order_for_charge(s, charge)
    if order is None:
        return "unknown_order", None
    amount, refunded = int(charge.get("amount") or 0), int(charge.get("amount_refunded") or 0)
    if amount <= 0 or refunded <= order.refunded_cents:
        return "no_change", order.id
    due_total = min(order.credits, order.credits * refunded // amount)
    wanted = due_total - order.credits_clawed_back - order.clawback_shortfall
    key = f"refund:{charge.get('id')}:{refunded}"
    restored = _restorations(s, order.id)
    if restored:  # the same refunded total can come back after a failed refund: a new entry
        key = f"{key}:after{restored}"
    taken, shortfall = ledger.clawback(
        s,
        user_id=order.user_id,
        wanted=wanted,
        reason=f"Refund of {order.credits}-credit pack",
        idempotency_key=key,
        order_id=order.id,
    )
    order.refunded_cents = refunded
    order.credits_clawed_back += taken
    order.clawback_shortfall += shortfall
    order.status = OrderStatus.REFUNDED if refunded >= amount else OrderStatus.PARTIALLY_REFUNDED
    order.updated_at = utcnow()
    s.add(order)
    return ("refunded_with_shortfall" if shortfall else "refunded"), order.id


def _dispute(s: Session, dispute: dict) -> tuple[str, str | None]:
    order = _paid_order_for_charge(s, {"payment_intent": dispute.get("payment_intent"), "metadata": {}})
    if order is None:
        return "unknown_order", None
    wanted = order.credits - order.credits_clawed_back - order.clawback_shortfall
    taken, shortfall = ledger.clawback(
        s,
        user_id=order.user_id,
        wanted=wanted,
        reason=f"Payment disputed: {order.credits}-credit pack",
        idempotency_key=f"dispute:{dispute.get('id')}",
        order_id=order.id,
    )
    order.credits_clawed_back += taken
    order.clawback_shortfall += shortfall
    order.status, order.updated_at = OrderStatus.DISPUTED, utcnow()
    s.add(order)
    return ("disputed_with_shortfall" if shortfall else "disputed"), order.id


def _refund_failed(s: Session, refund: dict) -> tuple[str, str | None]:
    """Undo what a refund took once Stripe reports that the refund failed (``refund.failed``)."""
    refund_id = str(refund.get("id") or "")[:200]
    order = _paid_order_for_charge(
        s, {"payment_intent": refund.get("payment_intent"), "metadata": refund.get("metadata") or {}}
    )
    if order is None or not refund_id:
        return "unknown_order", None
    key = f"refund_failed:{refund_id}"
    if ledger.find_entry(s, key) is not None:  # this refund's failure was applied already
        return "no_change", order.id
    failed_cents = min(int(refund.get("amount") or 0), order.refunded_cents)
    if failed_cents <= 0 or order.amount_cents <= 0:
        return "no_change", order.id
    refunded = order.refunded_cents - failed_cents
    order.refunded_cents = refunded
    restore = 0
    if order.status != OrderStatus.DISPUTED:
        due_total = min(order.credits, order.credits * refunded // order.amount_cents)
        excess = order.credits_clawed_back + order.clawback_shortfall - due_total
        forgiven = min(order.clawback_shortfall, max(0, excess))
        restore = min(order.credits_clawed_back, max(0, excess - forgiven))
        order.clawback_shortfall -= forgiven
        order.credits_clawed_back -= restore
        order.status = OrderStatus.PARTIALLY_REFUNDED if refunded > 0 else OrderStatus.PAID
    # always one entry (0 when nothing was taken): the record that this refund's failure was applied
    ledger.post(
        s,
        user_id=order.user_id,
        delta=restore,
        kind=LedgerKind.REFUND,
        reason=f"Refund failed: {restore} credits of the {order.credits}-credit pack restored",
        idempotency_key=key,
        order_id=order.id,
    )
    order.updated_at = utcnow()
    s.add(order)
    return ("refund_reversed" if restore else "refund_failed_recorded"), order.id


def _dispatch(s: Session, event: dict) -> tuple[str, str | None]:
    kind = event.get("type", "")
    obj = ((event.get("data") or {}).get("object")) or {}
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return _grant(s, obj, event["id"])
    if kind == "checkout.session.async_payment_failed":
        return _fail_order(s, obj, "async_payment_failed")
    if kind == "checkout.session.expired":
        return _fail_order(s, obj, "expired")
    if kind == "charge.refunded":
        return _refund(s, obj)
    if kind == "charge.dispute.created":
        return _dispute(s, obj)
    if kind == "refund.failed":
        return _refund_failed(s, obj)
    return "ignored", None


def handle_event(event: dict, *, engine: Engine | None = None) -> str:
    """Apply one verified event exactly once; returns the result stored for it.

    The ``stripe_events`` row is inserted first: a parallel delivery of the
    same event id waits on it (PostgreSQL) or on the write lock (SQLite) and
    then finds it, so the effect happens once.

    Raises:
        RetryLater: the event must be delivered again later (nothing stored).
    """
    event_id = str(event.get("id") or "")[:255]
    if not event_id:
        return "invalid"
    try:
        with session_scope(engine) as s:
            if s.get(StripeEvent, event_id) is not None:
                return "duplicate"
            row = StripeEvent(id=event_id, type=str(event.get("type", ""))[:64], result="processing")
            s.add(row)
            s.flush()
            result, order_id = _dispatch(s, event)
            row.result, row.order_id = result, order_id
            s.add(row)
    except IntegrityError:
        with session_scope(engine) as s:
            if s.get(StripeEvent, event_id) is not None:
                return "duplicate"
            # e.g. a PaymentIntent already used by another order: record it for admins, stop retries
            log.error("stripe event %s conflicts with stored payments", event_id)
            s.add(StripeEvent(id=event_id, type=str(event.get("type", ""))[:64], result="conflict"))
        return "conflict"
    log.info("stripe event %s %s -> %s", event_id, event.get("type"), result)
    return result


def timestamp_fresh(header: str | None, *, now: float | None = None, tolerance: int = TOLERANCE) -> bool:
    """True when the ``t=`` timestamp of a ``Stripe-Signature`` header is within ``tolerance`` s of now.

    Refuses both stale and future timestamps (``stripe.Webhook.construct_event``
    only refuses stale ones); a missing or malformed ``t`` is refused too.
    """
    stamps = [p[2:] for p in (header or "").split(",") if p.strip().startswith("t=")]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    return abs((time.time() if now is None else now) - int(stamps[0])) <= tolerance


async def webhook_endpoint(request: Request) -> Response:
    """``POST /stripe/webhook``: 400 on a bad/stale signature or body, 500 to ask for a retry, else 200."""
    secret = get_settings().stripe_webhook_secret
    if not secret:
        return JSONResponse({"error": "payments not configured"}, status_code=404)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    payload = await request.body()
    if len(payload) > MAX_BODY:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    if not timestamp_fresh(request.headers.get("stripe-signature")):
        return JSONResponse({"error": "invalid signature or payload"}, status_code=400)
    try:
        stripe.Webhook.construct_event(payload, request.headers.get("stripe-signature"), secret)
        event = json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError):
        return JSONResponse({"error": "invalid signature or payload"}, status_code=400)
    try:
        result = await run_in_threadpool(handle_event, event)
    except RetryLater as exc:
        log.info("stripe event %s deferred: %s", event.get("id"), exc)
        return JSONResponse({"error": "retry later"}, status_code=500)
    return JSONResponse({"received": True, "result": result})
