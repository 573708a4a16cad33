"""Credit packs through Stripe Checkout, and the one idempotent fulfilment function.

Flow (Stripe Checkout, ``mode=payment``; https://docs.stripe.com/payments/checkout/fulfill-orders):

1. :func:`start_checkout` writes a PENDING :class:`~lashme.models.Order` (credits
   and price copied from the pack), then creates the Checkout Session with the
   order id as the Stripe ``Idempotency-Key`` and stores the session id.
2. Stripe sends ``checkout.session.completed`` (``lashme.credits.stripe_webhooks``) and
   the browser returns to ``/credits/success?session_id=…``
   (:func:`confirm_checkout`).  Both call :func:`fulfil_checkout_session`.
3. Fulfilment locks the order row, returns early if it is already paid, and
   otherwise stores the PaymentIntent id (UNIQUE) and grants the credits with
   ledger key ``purchase:{checkout_session_id}`` (UNIQUE) in one transaction.
   Replays, parallel deliveries, the same session under a new event id and
   the webhook racing the success page therefore grant exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import stripe
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lashme.accounts import throttle
from lashme.credits import ledger, pricing
from lashme.errors import DomainError
from lashme.models import LedgerKind, Order, OrderStatus, utcnow
from lashme.ops.db import session_scope
from lashme.ops.settings import Settings, get_settings

log = logging.getLogger(__name__)
#: Checkout Sessions one user may create (Stripe rate-limits the whole account; limits' notation)
CHECKOUT_RATE = "10/hour"
PAID_STATUSES = frozenset(
    {OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.DISPUTED}
)


class PaymentsError(DomainError):
    """Payments are not configured, Stripe is unreachable, or a payment cannot be found."""


def is_configured(settings: Settings | None = None) -> bool:
    """True when both ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET`` are set."""
    s = settings or get_settings()
    return bool(s.stripe_secret_key and s.stripe_webhook_secret)


def stripe_client(settings: Settings | None = None) -> stripe.StripeClient:
    """A Stripe API client (``STRIPE_API_BASE`` overrides the API host, e.g. a local server).

    Raises:
        PaymentsError: ``payments.not_configured``.
    """
    s = settings or get_settings()
    if not is_configured(s):
        raise PaymentsError("payments.not_configured")
    extra: dict[str, Any] = {}
    if s.stripe_api_base:
        extra["base_addresses"] = {"api": s.stripe_api_base.rstrip("/")}
    return stripe.StripeClient(s.stripe_secret_key, max_network_retries=2, **extra)


def as_dict(obj: Any) -> dict:
    """A Stripe object (or an already-decoded JSON dict) as a plain ``dict``."""
    if isinstance(obj, Mapping):
        return dict(obj)
    return obj.to_dict()


@dataclass(frozen=True)
class CheckoutStart:
    """Where to send the browser: ``url`` is Stripe's hosted payment page for ``order_id``."""

    order_id: str
    url: str


def start_checkout(
    *,
    user_id: int,
    pack_id: int,
    origin: str,
    engine: Engine | None = None,
    client: Any = None,
    next_path: str = "",
) -> CheckoutStart:
    """Create a PENDING order and its Stripe Checkout Session.

    Args:
        user_id: the signed-in buyer.
        pack_id: an active :class:`~lashme.models.CreditPack` id.
        origin: the app's public origin (``https://host``) for the return URLs.
        engine: database engine (default: configured).
        client: a ``stripe.StripeClient`` (default :func:`stripe_client`).
        next_path: an app path checked by the caller (``/variant/{id}``) to carry through both
            return URLs as ``next`` (the buyer lands back where she was), or "".

    Raises:
        NotFound: ``credits.pack_not_found``.
        PaymentsError: ``payments.not_configured`` or ``payments.unavailable``
            (the order is then marked FAILED).
        Throttled: more than :data:`CHECKOUT_RATE` checkouts by this user.
    """
    client = client or stripe_client()
    throttle.hit("checkout", str(user_id), CHECKOUT_RATE)
    with session_scope(engine) as s:
        pack = pricing.get_active_pack(s, pack_id)
        order = Order(
            user_id=user_id,
            pack_id=pack.id,
            pack_code=pack.code,
            credits=pack.credits,
            amount_cents=pack.price_cents,
            currency=pack.currency,
        )
        s.add(order)
        s.flush()
        order_id, credits, amount, currency = order.id, order.credits, order.amount_cents, order.currency
    metadata = {"order_id": order_id, "pack_id": str(pack_id), "user_id": str(user_id)}
    back = f"&next={quote(next_path, safe='/')}" if next_path else ""
    params = {
        "mode": "payment",
        "client_reference_id": str(user_id),
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount,
                    "product_data": {"name": f"LashMe — {credits} credits"},
                },
            }
        ],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": f"{origin.rstrip('/')}/credits/success?session_id={{CHECKOUT_SESSION_ID}}{back}",
        "cancel_url": f"{origin.rstrip('/')}/credits?canceled=1{back}",
    }
    try:
        cs = client.v1.checkout.sessions.create(
            params=params, options={"idempotency_key": f"order-{order_id}"}
        )
    except stripe.StripeError as exc:
        log.warning("checkout session for order %s failed: %s", order_id, type(exc).__name__)
        with session_scope(engine) as s:
            order = s.get(Order, order_id)
            order.status, order.failure_reason, order.updated_at = (
                OrderStatus.FAILED,
                "checkout_failed",
                utcnow(),
            )
        raise PaymentsError("payments.unavailable") from exc
    with session_scope(engine) as s:
        order = s.get(Order, order_id)
        order.checkout_session_id, order.updated_at = cs.id, utcnow()
    return CheckoutStart(order_id=order_id, url=cs.url)


def lock_order(session: Session, **where: str) -> Order | None:
    """The order matching one ``column=value`` (e.g. ``payment_intent_id="pi_…"``), row-locked."""
    ((column, value),) = where.items()
    return session.execute(
        select(Order)
        .where(getattr(Order, column) == value)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def find_order_for_session(session: Session, cs: Mapping) -> Order | None:
    """The order a Checkout Session pays for (by session id, then by ``metadata.order_id``), locked."""
    order = lock_order(session, checkout_session_id=cs["id"])
    if order is None:
        order_id = (cs.get("metadata") or {}).get("order_id")
        if order_id:
            order = lock_order(session, id=str(order_id)[:32])
            if order is not None and order.checkout_session_id not in (None, cs["id"]):
                return None  # metadata points at an order paid by another session: not ours
    return order


@dataclass(frozen=True)
class Fulfilment:
    """Outcome of :func:`fulfil_checkout_session`.

    ``result``: ``granted`` (credits added now), ``already_fulfilled``,
    ``not_paid`` (e.g. a delayed bank payment), ``unknown_order`` or ``mismatch`` (the buyer,
    amount or currency differ from the order: never granted, logged as an error for admins).
    """

    result: str
    order_id: str | None = None
    credits: int = 0


def fulfil_checkout_session(session: Session, cs: Mapping, *, source: str) -> Fulfilment:
    """Grant an order's credits once its Checkout Session is paid (idempotent; caller commits).

    Args:
        session: open session; the order row is locked until the caller commits.
        cs: the Checkout Session object as a dict (``id``, ``payment_status``,
            ``payment_intent``, ``client_reference_id``, ``metadata``, ``amount_total``, ``currency``).
        source: who calls (``webhook:evt_…`` or ``success_page``), kept in the ledger reason.

    Raises:
        sqlalchemy.exc.IntegrityError: the PaymentIntent already paid another
            order (the caller's transaction must roll back).
    """
    order = find_order_for_session(session, cs)
    if order is None:
        log.warning("checkout session %s matches no order", cs.get("id"))
        return Fulfilment("unknown_order")
    if str(cs.get("client_reference_id") or "") != str(order.user_id):
        log.warning("checkout session %s: client_reference_id does not match order %s", cs["id"], order.id)
        return Fulfilment("mismatch", order.id)
    if order.status in PAID_STATUSES:
        return Fulfilment("already_fulfilled", order.id)
    if cs.get("payment_status") != "paid":
        order.checkout_session_id = order.checkout_session_id or cs["id"]
        return Fulfilment("not_paid", order.id)
    paid = (cs.get("amount_total"), str(cs.get("currency") or "").lower())
    if paid != (order.amount_cents, order.currency.lower()):
        log.error(
            "order %s: paid %s, expected %s; not granted",
            order.id,
            paid,
            (order.amount_cents, order.currency),
        )
        return Fulfilment("mismatch", order.id)
    now = utcnow()
    order.checkout_session_id = cs["id"]
    order.payment_intent_id = cs.get("payment_intent") or order.payment_intent_id
    order.status, order.credited_at, order.updated_at = OrderStatus.PAID, now, now
    session.add(order)
    session.flush()  # UNIQUE(payment_intent_id) is checked here, before the grant
    ledger.post(
        session,
        user_id=order.user_id,
        delta=order.credits,
        kind=LedgerKind.PURCHASE,
        reason=f"Bought {order.credits} credits",
        idempotency_key=f"purchase:{cs['id']}",
        actor=source[:64],
        order_id=order.id,
    )
    return Fulfilment("granted", order.id, order.credits)


def confirm_checkout(
    *, user_id: int, checkout_session_id: str, engine: Engine | None = None, client: Any = None
) -> Fulfilment:
    """The success page: fetch the session from Stripe and fulfil it if it is the user's and paid.

    Raises:
        PaymentsError: ``payments.not_found`` (unknown or someone else's session),
            ``payments.unavailable`` (Stripe did not answer) or ``payments.not_configured``.
    """
    if not checkout_session_id or len(checkout_session_id) > 255:
        raise PaymentsError("payments.not_found")
    with session_scope(engine) as s:
        order = s.execute(
            select(Order).where(Order.checkout_session_id == checkout_session_id)
        ).scalar_one_or_none()
        if order is None or order.user_id != user_id:
            raise PaymentsError("payments.not_found")
        if order.status in PAID_STATUSES:
            return Fulfilment("already_fulfilled", order.id, order.credits)
    client = client or stripe_client()
    try:
        cs = as_dict(client.v1.checkout.sessions.retrieve(checkout_session_id))
    except stripe.StripeError as exc:
        raise PaymentsError("payments.unavailable") from exc
    with session_scope(engine) as s:
        result = fulfil_checkout_session(s, cs, source="success_page")
    return result


def orders_of(session: Session, user_id: int, *, limit: int = 20) -> list[Order]:
    """The user's orders, newest first (pending ones without a session are left out)."""
    return list(
        session.execute(
            select(Order)
            .where(Order.user_id == user_id, Order.checkout_session_id.is_not(None))
            .order_by(Order.created_at.desc())
            .limit(limit)
        ).scalars()
    )
