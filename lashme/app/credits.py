"""Credits: packs on sale, Stripe Checkout (start and the return page), orders, the ledger history.

Also home of :class:`LedgerRow`, the one view of a ledger entry (the credits page,
the dashboard and the admin pages all show these).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from lashme.app.caller import Caller
from lashme.app.paging import Page, paginate
from lashme.credits import ledger, payments, pricing
from lashme.errors import DomainError
from lashme.models import LedgerEntry, OrderStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings

#: kinds whose stored reason a person wrote (shown as written); the others get a translated text
HUMAN_REASON_KINDS = frozenset({"admin_adjust", "grant"})
#: orders that never granted credits (their credits column shows a dash)
UNGRANTED_ORDER_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.FAILED})
#: where a buyer may be sent back after Checkout (``next``): her own pages only, never another site
NEXT_PATH = re.compile(r"^/(?:variant|job)/[0-9a-f]{32}$|^/(?:gallery|dashboard|credits)$")


def safe_next(path: object) -> str:
    """``path`` when it is one of the app's own return pages (:data:`NEXT_PATH`), else "".

    Client input: anything else (another site, ``//host``, a query, a script URL) becomes "".
    """
    text = str(path or "")[:80]
    return text if NEXT_PATH.match(text) else ""


@dataclass(frozen=True)
class LedgerRow:
    """One ledger entry.

    Attributes:
        id: entry id (ascending in time).
        created_at: when it was written (aware UTC).
        user_id: whose balance it changed.
        kind: ``LedgerKind`` value (``signup_bonus``, ``unlock``, ``purchase`` …).
        delta: change of the total balance (credits).
        held_delta: change of the reserved credits.
        balance_after: total balance right after it.
        held_after: reserved credits right after it.
        reason: the stored reason text.
        human_reason: ``reason`` was written by a person (show it as is; else show ``reason.{kind}``).
        actor: who caused it (``system``, ``user:{id}``, ``admin:{id}``).
        job_id: the job it belongs to, if any.
        variant_id: the variant it belongs to, if any.
    """

    id: int
    created_at: datetime
    user_id: int
    kind: str
    delta: int
    held_delta: int
    balance_after: int
    held_after: int
    reason: str
    human_reason: bool
    actor: str
    job_id: str | None
    variant_id: str | None

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerRow:
        """The row for a stored ledger entry."""
        kind = str(entry.kind)
        return cls(
            id=entry.id,
            created_at=entry.created_at,
            user_id=entry.user_id,
            kind=kind,
            delta=entry.delta,
            held_delta=entry.held_delta,
            balance_after=entry.balance_after,
            held_after=entry.held_after,
            reason=entry.reason,
            human_reason=kind in HUMAN_REASON_KINDS,
            actor=entry.actor,
            job_id=entry.job_id,
            variant_id=entry.variant_id,
        )


@dataclass(frozen=True)
class LedgerPage:
    """A page of the caller's ledger, newest first (keyset pages: :mod:`lashme.app.paging`).

    Attributes:
        rows: the page's entries, newest first.
        next_page_token: token of the older entries after these (None on the last page).
        prev_page_token: token of the newer entries before these (None on the first page).
        has_more: older entries follow.
        total: how many entries the ledger has.
    """

    rows: tuple[LedgerRow, ...]
    next_page_token: str | None = None
    prev_page_token: str | None = None
    has_more: bool = False
    total: int = 0


@dataclass(frozen=True)
class Pack:
    """A credit pack on sale.

    Attributes:
        id: pack id (what :func:`start_checkout` takes).
        code: stable code (``pack_50``).
        credits: credits in the pack (1 credit = 1 photo unlocked).
        price_cents: price in ``currency``'s minor units.
        currency: ISO 4217 code, lower case (``usd``).
        popular: show the "popular" badge.
    """

    id: int
    code: str
    credits: int
    price_cents: int
    currency: str
    popular: bool

    @property
    def per_photo_cents(self) -> int:
        """Price of one credit (one photo) in minor units, rounded up: 1800/50 → 36."""
        return -(-self.price_cents // max(1, self.credits))


@dataclass(frozen=True)
class OrderView:
    """One of the caller's orders; ``granted`` is False while pending or after a failure."""

    id: str
    created_at: datetime
    credits: int
    amount_cents: int
    currency: str
    status: str
    granted: bool


@dataclass(frozen=True)
class CreditsPage:
    """Everything ``/credits`` shows: whether payments work, packs, orders, one ledger page."""

    configured: bool
    packs: tuple[Pack, ...]
    orders: tuple[OrderView, ...]
    ledger: LedgerPage


@dataclass(frozen=True)
class CheckoutResult:
    """The return from Stripe: ``status`` is ``granted`` (now or before) or ``pending``; ``credits`` added."""

    status: str
    credits: int


def read_ledger_page(session: Session, user_id: int, token: object, page_size: object) -> LedgerPage:
    """The ledger page of ``user_id`` that ``token`` points at, in an open transaction (for use-cases).

    Args:
        session: open session.
        user_id: whose ledger (the caller checked the right to read it).
        token: a page token from an earlier :class:`LedgerPage` (None or unusable → the newest entries).
        page_size: entries per page, clamped to 1..200.
    """
    page = ledger_entries_page(session, user_id, token, page_size)
    return LedgerPage(
        rows=page.items,
        next_page_token=page.next_token,
        prev_page_token=page.prev_token,
        has_more=page.has_more,
        total=page.total or 0,
    )


def ledger_entries_page(session: Session, user_id: int, token: object, limit: object) -> Page[LedgerRow]:
    """One page of ``user_id``'s ledger, newest first (keyset on the entry id; ``total`` = all entries).

    Args:
        session: open session.
        user_id: whose ledger (the caller checked the right to read it).
        token: page token of an earlier page of this list (None or unusable → the newest entries).
        limit: entries per page, clamped to 1..200.
    """
    page = paginate(
        session,
        select(LedgerEntry).where(LedgerEntry.user_id == user_id),
        order=(LedgerEntry.id.desc(),),
        token=token,
        limit=limit,
        scope="ledger",
        count=True,
    )
    return page.map(lambda row: LedgerRow.of(row[0]))


def history(caller: Caller, *, page_token: object = None, page_size: int = 20) -> LedgerPage:
    """One page of the caller's ledger, newest first.

    Args:
        caller: a signed-in user.
        page_token: a token from an earlier page (None or unusable → the newest entries).
        page_size: entries per page, clamped to 1..200.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        return read_ledger_page(s, user_id, page_token, page_size)


def overview(caller: Caller, *, ledger_token: object = None, page_size: int = 20) -> CreditsPage:
    """The credits page: packs, the caller's orders (newest 20) and the ledger page ``ledger_token`` names.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        packs = tuple(
            Pack(
                id=p.id,
                code=p.code,
                credits=p.credits,
                price_cents=p.price_cents,
                currency=p.currency,
                popular=p.popular,
            )
            for p in pricing.active_packs(s)
        )
        orders = tuple(
            OrderView(
                id=o.id,
                created_at=o.created_at,
                credits=o.credits,
                amount_cents=o.amount_cents,
                currency=o.currency,
                status=str(o.status),
                granted=o.status not in UNGRANTED_ORDER_STATUSES,
            )
            for o in payments.orders_of(s, user_id)
        )
        page = read_ledger_page(s, user_id, ledger_token, page_size)
    return CreditsPage(configured=payments.is_configured(), packs=packs, orders=orders, ledger=page)


def start_checkout(caller: Caller, pack_id: object, *, origin: str, next_path: object = "") -> str:
    """Create an order for an active pack and its Stripe Checkout Session; returns Stripe's page URL.

    A network call: run it off the event loop.

    Args:
        caller: the signed-in buyer.
        pack_id: the pack's id (client input: anything that is not an int is refused).
        origin: the app's public origin for the return URLs (``LASHME_PUBLIC_URL`` wins over it).
        next_path: the page to come back to after paying (client input, checked by :func:`safe_next`;
            e.g. the variant she wanted to unlock); carried through both return URLs.

    Raises:
        AuthError: ``auth.required`` for a visitor.
        NotFound: ``credits.pack_not_found``.
        PaymentsError: ``payments.not_configured`` or ``payments.unavailable``.
        Throttled: too many checkouts.
    """
    user_id = caller.require_user()
    try:
        pack = int(pack_id)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise DomainError("credits.pack_not_found") from None
    origin = get_settings().public_url or origin
    return payments.start_checkout(
        user_id=user_id, pack_id=pack, origin=origin, next_path=safe_next(next_path)
    ).url


def confirm_checkout(caller: Caller, checkout_session_id: str) -> CheckoutResult:
    """The return from Stripe: grant the session's credits if it is the caller's and paid (exactly once).

    Raises:
        AuthError: ``auth.required`` for a visitor.
        PaymentsError: ``payments.not_found`` (unknown or someone else's), ``payments.unavailable``
            or ``payments.not_configured``.
    """
    user_id = caller.require_user()
    result = payments.confirm_checkout(user_id=user_id, checkout_session_id=str(checkout_session_id)[:255])
    if result.result in ("granted", "already_fulfilled"):
        return CheckoutResult(status="granted", credits=result.credits)
    return CheckoutResult(status="pending", credits=0)


@dataclass(frozen=True)
class BalanceView:
    """The caller's credits now: ``available`` to spend, ``held`` by running jobs, ``unlock_cost``."""

    available: int
    held: int
    unlock_cost: int


def balance(caller: Caller) -> BalanceView:
    """The caller's balance and the current unlock price.

    Raises:
        AuthError: ``auth.required`` for a visitor.
    """
    user_id = caller.require_user()
    with session_scope() as s:
        bal = ledger.get_balance(s, user_id)
        cost = pricing.get_prices(s).unlock_cost
    return BalanceView(available=bal.available, held=bal.held, unlock_cost=cost)
