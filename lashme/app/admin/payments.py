"""Admin payments: credit-pack orders with their buyers, and the Stripe webhook log (read only).

Both lists are paginated, newest first, and filterable; every filter value is
validated (statuses against :class:`lashme.models.OrderStatus`, lengths
bounded) because the admin pages pass what the browser sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from lashme.app.admin.guard import require_admin
from lashme.app.paging import Page, paginate
from lashme.credits.pricing import format_money
from lashme.errors import DomainError
from lashme.models import Order, OrderStatus, StripeEvent, User

ORDER_STATUSES = tuple(s.value for s in OrderStatus)


@dataclass(frozen=True)
class OrderRow:
    """One order as the payments page shows it.

    Attributes:
        id: order id.
        user_id: the buyer's id.
        email: the buyer's email.
        pack_code: code of the pack bought.
        credits: credits the order grants (copied from the pack at checkout).
        amount_cents: amount in minor units (copied from the pack at checkout).
        currency: lower-case ISO code.
        amount: ``amount_cents`` formatted in English (``$18.00``).
        status: :class:`lashme.models.OrderStatus` value.
        refunded_cents: refunded so far, minor units.
        refunded: ``refunded_cents`` formatted.
        credits_clawed_back: credits taken back after refunds/disputes.
        shortfall: refunded credits that could not be taken back (already spent).
        failure_reason: why a failed order failed, if known.
        created_at: order creation.
        credited_at: when the credits were granted (None until paid).
    """

    id: str
    user_id: int
    email: str
    pack_code: str
    credits: int
    amount_cents: int
    currency: str
    amount: str
    status: str
    refunded_cents: int
    refunded: str
    credits_clawed_back: int
    shortfall: int
    failure_reason: str | None
    created_at: datetime
    credited_at: datetime | None


@dataclass(frozen=True)
class WebhookRow:
    """One received Stripe webhook event and what was done with it.

    Attributes:
        id: Stripe event id (``evt_…``).
        type: event type (``checkout.session.completed`` …).
        order_id: the order it concerned, if any.
        result: outcome (``granted``, ``already_fulfilled``, ``ignored``, ``conflict`` …).
        detail: extra detail, if any.
        received_at: when it arrived.
    """

    id: str
    type: str
    order_id: str | None
    result: str
    detail: str | None
    received_at: datetime


def _text(value: Any, max_len: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_len:
        raise DomainError("admin.payments.bad_filter")
    return value.strip()


def orders(
    session: Session,
    actor_id: int | None,
    *,
    status: str = "",
    email: str = "",
    token: str | None = None,
    limit: int = 25,
) -> Page[OrderRow]:
    """One page of orders, newest first; the page's ``total`` is how many match the filters.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        status: an :class:`~lashme.models.OrderStatus` value, or empty for all.
        email: part of the buyer's email (case-insensitive), or empty for all.
        token: page token from an earlier page of this list (None or unusable → the first page).
        limit: rows per page, clamped to 1..200.

    Returns:
        A :class:`~lashme.app.paging.Page` of rows.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.payments.bad_filter`` for an unknown status or bad values.
    """
    require_admin(session, actor_id, action="payments.orders")
    status = _text(status, 32)
    email = _text(email, 254)
    if status and status not in ORDER_STATUSES:
        raise DomainError("admin.payments.bad_filter")
    conds = []
    if status:
        conds.append(Order.status == status)
    if email:
        conds.append(func.lower(User.email).contains(email.lower(), autoescape=True))
    page = paginate(
        session,
        select(Order, User.email).join(User, User.id == Order.user_id).where(*conds),
        order=(Order.created_at.desc(), Order.id.desc()),
        token=token,
        limit=limit,
        scope="admin.orders",
        count=True,
    )
    return page.map(lambda row: _order_row(*row))


def _order_row(o: Order, buyer: str) -> OrderRow:
    return OrderRow(
        id=o.id,
        user_id=o.user_id,
        email=buyer,
        pack_code=o.pack_code,
        credits=o.credits,
        amount_cents=o.amount_cents,
        currency=o.currency,
        amount=format_money(o.amount_cents, o.currency),
        status=str(o.status),
        refunded_cents=o.refunded_cents,
        refunded=format_money(o.refunded_cents, o.currency),
        credits_clawed_back=o.credits_clawed_back,
        shortfall=o.clawback_shortfall,
        failure_reason=o.failure_reason,
        created_at=o.created_at,
        credited_at=o.credited_at,
    )


def webhook_log(
    session: Session,
    actor_id: int | None,
    *,
    type: str = "",  # noqa: A002 - the column's name, as the page's filter calls it
    result: str = "",
    token: str | None = None,
    limit: int = 25,
) -> Page[WebhookRow]:
    """One page of received Stripe webhook events, newest first; ``total`` is how many match the filters.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).
        type: exact event type, or empty for all.
        result: exact result, or empty for all.
        token: page token from an earlier page of this list (None or unusable → the first page).
        limit: rows per page, clamped to 1..200.

    Returns:
        A :class:`~lashme.app.paging.Page` of rows.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.payments.bad_filter`` for malformed values.
    """
    require_admin(session, actor_id, action="payments.webhook_log")
    type_ = _text(type, 64)
    result = _text(result, 32)
    conds = []
    if type_:
        conds.append(StripeEvent.type == type_)
    if result:
        conds.append(StripeEvent.result == result)
    page = paginate(
        session,
        select(StripeEvent).where(*conds),
        order=(StripeEvent.received_at.desc(), StripeEvent.id.desc()),
        token=token,
        limit=limit,
        scope="admin.webhooks",
        count=True,
    )
    return page.map(
        lambda row: WebhookRow(
            id=row[0].id,
            type=row[0].type,
            order_id=row[0].order_id,
            result=row[0].result,
            detail=row[0].detail,
            received_at=row[0].received_at,
        )
    )


def webhook_filters(session: Session, actor_id: int | None) -> tuple[list[str], list[str]]:
    """The distinct event types and results in the log (for the filter menus).

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).

    Returns:
        ``(types, results)``, each sorted.

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="payments.webhook_filters")
    types = sorted(session.execute(select(StripeEvent.type).distinct()).scalars())
    results = sorted(session.execute(select(StripeEvent.result).distinct()).scalars())
    return types, results
