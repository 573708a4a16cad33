"""``/credits``: balance, credit packs (Stripe Checkout), purchase history and the paginated ledger.

``/credits/success?session_id=…`` confirms a payment when the browser comes
back from Stripe (the webhook may have granted it already; either way exactly once).
"""

from __future__ import annotations

import asyncio

import reflex as rx

from lashme import ledger, payments, pricing
from lashme.db import session_scope
from lashme.errors import DomainError
from lashme.settings import get_settings
from lashme.ui.layout import ROSE, page_shell
from lashme.ui.state import SessionState

LEDGER_PAGE_SIZE = 20
ORDER_STATUS_LABELS = {
    "pending": "Pending",
    "paid": "Paid",
    "failed": "Failed",
    "partially_refunded": "Partly refunded",
    "refunded": "Refunded",
    "disputed": "Disputed",
}
KIND_LABELS = {
    "signup_bonus": "Welcome bonus",
    "grant": "Gift",
    "purchase": "Purchase",
    "unlock": "Unlock",
    "reserve": "Reserved",
    "capture": "Charged",
    "release": "Released",
    "refund": "Refund",
    "admin_adjust": "Adjustment",
}


def _date(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")


class CreditsState(SessionState):
    """The signed-in user's packs, orders and ledger page; nothing here belongs to anyone else."""

    configured: bool = False
    packs: list[dict] = []
    orders: list[dict] = []
    ledger_rows: list[dict] = []
    ledger_page: int = 1
    ledger_pages: int = 1
    notice: str = ""
    error: str = ""
    buying: int = 0

    def _load(self, user_id: int) -> None:
        self.configured = payments.is_configured()
        with session_scope() as s:
            self.packs = [
                {
                    "id": p.id,
                    "credits": p.credits,
                    "price": pricing.format_money(p.price_cents, p.currency),
                    "per_credit": pricing.format_money(round(p.price_cents / max(1, p.credits)), p.currency),
                    "popular": p.popular,
                }
                for p in pricing.active_packs(s)
            ]
            self.orders = [
                {
                    "id": o.id,
                    "date": _date(o.created_at),
                    "pack": f"{o.credits} credits",
                    "amount": pricing.format_money(o.amount_cents, o.currency),
                    "status": ORDER_STATUS_LABELS.get(o.status, o.status),
                    "credits": f"+{o.credits}" if o.status != "pending" and o.status != "failed" else "—",
                }
                for o in payments.orders_of(s, user_id)
            ]
            total = ledger.count_entries(s, user_id)
            self.ledger_pages = max(1, -(-total // LEDGER_PAGE_SIZE))
            self.ledger_page = min(max(1, self.ledger_page), self.ledger_pages)
            self.ledger_rows = [
                {
                    "id": e.id,
                    "date": _date(e.created_at),
                    "kind": KIND_LABELS.get(e.kind, e.kind),
                    "delta": f"{e.delta:+d}"
                    if e.delta
                    else (f"held {e.held_delta:+d}" if e.held_delta else "0"),
                    "balance": e.balance_after,
                    "reason": e.reason,
                }
                for e in ledger.entries(
                    s, user_id, limit=LEDGER_PAGE_SIZE, offset=(self.ledger_page - 1) * LEDGER_PAGE_SIZE
                )
            ]

    @rx.event
    def on_load(self):
        """Signed-in only; shows a notice when the buyer came back from a canceled checkout."""
        self._ensure_anon()
        self.error, self.notice, self.buying, self.ledger_page = "", "", 0, 1
        user_id = self._refresh_user()
        if user_id is None:
            return rx.redirect("/login?next=/credits")
        if self.router.url.query_parameters.get("canceled"):
            self.notice = "Payment canceled — nothing was charged."
        self._load(user_id)

    @rx.event
    def go_to_ledger_page(self, page: int):
        """Show ledger page ``page`` (1-based, clamped)."""
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect("/login?next=/credits")
        try:
            self.ledger_page = int(page)
        except (TypeError, ValueError):
            return
        self._load(user_id)

    @rx.event
    async def buy(self, pack_id: int):
        """Create an order and a Stripe Checkout Session, then send the browser to Stripe."""
        user_id = self._user_id()
        if user_id is None:
            yield rx.redirect("/login?next=/credits")
            return
        try:
            pack_id = int(pack_id)
        except (TypeError, ValueError):
            return
        self.error, self.buying = "", pack_id
        yield
        origin = get_settings().public_url or self.router.url.origin
        try:
            start = await asyncio.to_thread(
                payments.start_checkout, user_id=user_id, pack_id=pack_id, origin=origin
            )
        except DomainError as exc:
            self.error, self.buying = exc.message, 0
            return
        yield rx.redirect(start.url)


class CheckoutReturnState(SessionState):
    """``/credits/success``: confirm the returning buyer's payment."""

    status: str = "checking"  # checking | granted | pending | error
    message: str = ""

    @rx.event
    async def on_load(self):
        """Fulfil the Checkout Session named in the URL if it is this user's and paid."""
        self._ensure_anon()
        self.status, self.message = "checking", ""
        user_id = self._refresh_user()
        if user_id is None:
            yield rx.redirect("/login?next=/credits")
            return
        session_id = str(self.router.url.query_parameters.get("session_id", ""))[:255]
        yield
        try:
            result = await asyncio.to_thread(
                payments.confirm_checkout, user_id=user_id, checkout_session_id=session_id
            )
        except DomainError as exc:
            self.status, self.message = "error", exc.message
            return
        self._refresh_user()
        if result.result in ("granted", "already_fulfilled"):
            self.status = "granted"
            self.message = (
                f"Payment received — {result.credits} credits added."
                if result.credits
                else "Payment received."
            )
        else:
            self.status, self.message = "pending", DomainError("payments.not_paid").message


def pack_card(pack: dict) -> rx.Component:
    """One credit pack with its price and a Buy button."""
    return rx.card(
        rx.vstack(
            rx.cond(pack["popular"], rx.badge("Most popular", color_scheme="amber", variant="solid")),
            rx.heading(pack["credits"], " credits", size="5"),
            rx.text(pack["price"], size="6", weight="bold", color=ROSE),
            rx.text(pack["per_credit"], " per credit", size="2", color_scheme="gray"),
            rx.button(
                rx.cond(CreditsState.buying == pack["id"], rx.spinner(size="1"), rx.text("Buy")),
                on_click=CreditsState.buy(pack["id"]),
                disabled=~CreditsState.configured | (CreditsState.buying != 0),
                size="3",
                width="100%",
                class_name="buy-pack",
                min_height="44px",
            ),
            align="center",
            spacing="2",
            width="100%",
        ),
        width="100%",
        border=rx.cond(pack["popular"], f"2px solid {ROSE}", "1px solid var(--gray-a5)"),
    )


def _table(headers: list[str], rows, cells, table_id: str) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, lambda r: rx.table.row(*[rx.table.cell(c(r)) for c in cells]))),
            size="1",
            width="100%",
            id=table_id,
        ),
        width="100%",
        overflow_x="auto",
    )


def credits_page() -> rx.Component:
    """Balance, packs, purchase history and ledger."""
    return page_shell(
        rx.heading("Credits", size="7"),
        rx.hstack(
            rx.text("Available: ", rx.text.strong(CreditsState.balance, id="credits-available")),
            rx.cond(CreditsState.held > 0, rx.text("Held: ", rx.text.strong(CreditsState.held))),
            spacing="4",
        ),
        rx.cond(CreditsState.notice != "", rx.callout(CreditsState.notice, icon="info", width="100%")),
        rx.cond(
            CreditsState.error != "",
            rx.callout(
                CreditsState.error,
                icon="triangle_alert",
                color_scheme="red",
                width="100%",
                id="credits-error",
            ),
        ),
        rx.cond(
            ~CreditsState.configured,
            rx.callout(
                DomainError("payments.not_configured").message,
                icon="info",
                color_scheme="gray",
                width="100%",
                id="payments-not-configured",
            ),
        ),
        rx.grid(
            rx.foreach(CreditsState.packs, pack_card),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="4",
            width="100%",
        ),
        rx.heading("Purchases", size="5", align_self="start"),
        rx.cond(
            CreditsState.orders.length() > 0,
            _table(
                ["Date", "Pack", "Amount", "Status", "Credits"],
                CreditsState.orders,
                [
                    lambda r: r["date"],
                    lambda r: r["pack"],
                    lambda r: r["amount"],
                    lambda r: r["status"],
                    lambda r: r["credits"],
                ],
                "orders",
            ),
            rx.text("No purchases yet.", color_scheme="gray", align_self="start"),
        ),
        rx.heading("Credit history", size="5", align_self="start"),
        _table(
            ["Date", "What", "Change", "Balance", "Reason"],
            CreditsState.ledger_rows,
            [
                lambda r: r["date"],
                lambda r: r["kind"],
                lambda r: r["delta"],
                lambda r: r["balance"],
                lambda r: r["reason"],
            ],
            "ledger",
        ),
        rx.hstack(
            rx.button(
                "Newer",
                on_click=CreditsState.go_to_ledger_page(CreditsState.ledger_page - 1),
                disabled=CreditsState.ledger_page <= 1,
                variant="soft",
            ),
            rx.text(CreditsState.ledger_page, " / ", CreditsState.ledger_pages, size="2"),
            rx.button(
                "Older",
                on_click=CreditsState.go_to_ledger_page(CreditsState.ledger_page + 1),
                disabled=CreditsState.ledger_page >= CreditsState.ledger_pages,
                variant="soft",
            ),
            align="center",
            spacing="3",
        ),
    )


def checkout_return_page() -> rx.Component:
    """Where Stripe sends the buyer after paying."""
    return page_shell(
        rx.heading("Thank you!", size="7"),
        rx.cond(
            CheckoutReturnState.status == "checking",
            rx.hstack(rx.spinner(), rx.text("Confirming your payment…")),
            rx.callout(
                CheckoutReturnState.message,
                icon="info",
                color_scheme=rx.cond(CheckoutReturnState.status == "error", "red", "green"),
                id="checkout-result",
            ),
        ),
        rx.hstack(
            rx.link(rx.button("Enhance a photo"), href="/"),
            rx.link(rx.button("Credits", variant="soft"), href="/credits"),
            spacing="3",
        ),
    )
