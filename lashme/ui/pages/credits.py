"""``/credits``: balance, credit packs (Stripe Checkout), purchase history and the paginated ledger.

``/credits/success?session_id=…`` confirms a payment when the browser comes
back from Stripe (the webhook may have granted it already; either way exactly once).
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from lashme import i18n
from lashme.app import credits as app_credits
from lashme.app.caller import Caller
from lashme.errors import DomainError
from lashme.ui.components.ledger import LedgerMixin, ledger_pager, ledger_table
from lashme.ui.components.pager import FIRST, SAME
from lashme.ui.components.table import scroll_table
from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell
from lashme.ui.state import SessionState

LEDGER_PAGE_SIZE = 20


def _date(dt, locale: str = "en") -> str:
    return i18n.format_dt(dt, locale, fmt="short")


class CreditsState(LedgerMixin, SessionState):
    """The signed-in user's packs, orders and ledger page; nothing here belongs to anyone else."""

    LEDGER_LOGIN: ClassVar[str] = "/login?next=/credits"
    configured: bool = False
    packs: list[dict] = []
    orders: list[dict] = []
    notice: str = ""
    error: str = ""
    buying: int = 0
    #: where the buyer goes back after paying (checked: her own variant/job page), "" for none
    next_path: str = ""

    def _load(self, caller: Caller, move: str = SAME) -> None:
        data, refused = self._call(
            app_credits.overview,
            ledger_token=self._ledger_token(move),
            page_size=LEDGER_PAGE_SIZE,
            caller=caller,
        )
        if refused is not None:
            return
        loc = self.lang
        self.configured = data.configured
        self.packs = [
            {
                "id": p.id,
                "credits": p.credits,
                "title": i18n.translate_plural("plural.credits", p.credits, loc),
                "price": i18n.format_money(p.price_cents, p.currency, loc),
                "per_credit": i18n.format_money(p.per_photo_cents, p.currency, loc),
                "per_photo": i18n.translate(
                    "paid.per_photo", loc, price=i18n.format_money(p.per_photo_cents, p.currency, loc)
                ),
                "popular": p.popular,
            }
            for p in data.packs
        ]
        self.orders = [
            {
                "id": o.id,
                "date": _date(o.created_at, loc),
                "pack": i18n.translate_plural("plural.credits", o.credits, loc),
                "amount": i18n.format_money(o.amount_cents, o.currency, loc),
                "status": i18n.translate(f"order.{o.status}", loc),
                "credits": f"+{o.credits}" if o.granted else "—",
            }
            for o in data.orders
        ]
        self._show_ledger(data.ledger, move, loc)

    @rx.event
    def on_load(self):
        """Signed-in only; shows a notice when the buyer came back from a canceled checkout."""
        self._ensure_anon()
        self.error, self.notice, self.buying, self._ledger_cursor = "", "", 0, {}
        self.next_path = app_credits.safe_next(self.router.url.query_parameters.get("next", ""))
        caller = self._refresh_user()
        if not caller.signed_in:
            return rx.redirect("/login?next=/credits")
        if self.router.url.query_parameters.get("canceled"):
            self.notice = self._tr("credits.canceled")
        self._load(caller, FIRST)

    @rx.event
    async def buy(self, pack_id: int):
        """Create an order and a Stripe Checkout Session, then send the browser to Stripe."""
        if not self._caller().signed_in:
            yield rx.redirect("/login?next=/credits")
            return
        try:
            pack_id = int(pack_id)
        except (TypeError, ValueError):
            return
        self.error, self.buying = "", pack_id
        yield
        try:
            url = await self._run(
                app_credits.start_checkout, pack_id, origin=self.router.url.origin, next_path=self.next_path
            )
        except DomainError as exc:
            self.error, self.buying = self._err(exc), 0
            return
        yield rx.redirect(url)


class CheckoutReturnState(SessionState):
    """``/credits/success``: confirm the returning buyer's payment."""

    status: str = "checking"  # checking | granted | pending | error
    message: str = ""
    #: the page she came from (the variant she wanted to unlock), "" for none
    next_path: str = ""

    @rx.event
    async def on_load(self):
        """Fulfil the Checkout Session named in the URL if it is this user's and paid."""
        self._ensure_anon()
        self.status, self.message = "checking", ""
        self.next_path = app_credits.safe_next(self.router.url.query_parameters.get("next", ""))
        caller = self._refresh_user()
        if not caller.signed_in:
            yield rx.redirect("/login?next=/credits")
            return
        session_id = str(self.router.url.query_parameters.get("session_id", ""))[:255]
        yield
        try:
            result = await self._run(app_credits.confirm_checkout, session_id)
        except DomainError as exc:
            self.status, self.message = "error", self._err(exc)
            return
        self._refresh_user()
        if result.status == "granted":
            self.status = "granted"
            self.message = (
                i18n.ngettext("plural.credits_added", result.credits, self.locale)
                if result.credits
                else self._tr("credits.received")
            )
            if self.next_path:  # back to the variant she wanted to unlock, with the new balance
                yield rx.toast.success(self.message)
                yield rx.redirect(self.next_path)
        else:
            self.status, self.message = "pending", self._tr("payments.not_paid")


def pack_card(pack: dict) -> rx.Component:
    """One credit pack with its price and a Buy button."""
    return rx.card(
        rx.vstack(
            rx.cond(pack["popular"], rx.badge(tr("credits.popular"), color_scheme="amber", variant="solid")),
            rx.heading(pack["title"], size="5"),
            rx.text(pack["price"], size="6", weight="bold", color=ROSE),
            rx.text(pack["per_photo"], size="2", color_scheme="gray", class_name="per-photo"),
            rx.cond(
                CreditsState.configured,
                rx.button(
                    rx.cond(
                        CreditsState.buying == pack["id"], rx.spinner(size="1"), rx.text(tr("credits.buy"))
                    ),
                    on_click=CreditsState.buy(pack["id"]),
                    disabled=CreditsState.buying != 0,
                    size="3",
                    width="100%",
                    class_name="buy-pack",
                    min_height="44px",
                ),
            ),
            align="center",
            spacing="2",
            width="100%",
        ),
        width="100%",
        border=rx.cond(pack["popular"], f"2px solid {ROSE}", "1px solid var(--gray-a5)"),
    )


def credits_page() -> rx.Component:
    """Balance, packs, purchase history and ledger."""
    return page_shell(
        rx.heading(tr("credits.title"), size="7"),
        rx.hstack(
            rx.text(tr("credits.available"), rx.text.strong(CreditsState.balance, id="credits-available")),
            rx.cond(CreditsState.held > 0, rx.text(tr("credits.held"), rx.text.strong(CreditsState.held))),
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
            (CreditsState.next_path != "") & CreditsState.configured,
            rx.callout(tr("paid.next_note"), icon="image", width="100%", id="credits-next-note"),
        ),
        rx.cond(
            ~CreditsState.configured,
            rx.callout.root(  # root, not rx.callout(...): that wraps children in a <p>, and a <div> in a <p>
                rx.callout.icon(rx.icon("clock")),  # is re-parsed by the browser: a hydration mismatch
                rx.vstack(
                    rx.text(tr("paid.payments_soon"), weight="bold"),
                    rx.text(tr("paid.payments_soon_text"), size="2"),
                    spacing="1",
                ),
                color_scheme="gray",
                width="100%",
                id="payments-not-configured",
            ),
        ),
        rx.cond(
            CreditsState.next_path != "",
            rx.link(
                rx.hstack(rx.icon("arrow_left", size=16), tr("paid.back_to_photo"), align="center"),
                href=CreditsState.next_path,
                align_self="start",
                id="credits-back",
            ),
        ),
        rx.text(tr("paid.one_credit_one_photo"), size="2", color_scheme="gray", align_self="start"),
        rx.grid(
            rx.foreach(CreditsState.packs, pack_card),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="4",
            width="100%",
        ),
        rx.heading(tr("credits.purchases"), size="5", align_self="start"),
        rx.cond(
            CreditsState.orders.length() > 0,
            scroll_table(
                [tr(k) for k in ("col.date", "col.pack", "col.amount", "col.status", "col.credits")],
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
            rx.text(tr("credits.no_purchases"), color_scheme="gray", align_self="start"),
        ),
        rx.heading(tr("credits.history"), size="5", align_self="start"),
        ledger_table(CreditsState, "ledger"),
        ledger_pager(CreditsState),
    )


def checkout_return_page() -> rx.Component:
    """Where Stripe sends the buyer after paying."""
    return page_shell(
        rx.heading(tr("credits.thanks"), size="7"),
        rx.cond(
            CheckoutReturnState.status == "checking",
            rx.hstack(rx.spinner(), rx.text(tr("credits.confirming"))),
            rx.callout(
                CheckoutReturnState.message,
                icon="info",
                color_scheme=rx.cond(CheckoutReturnState.status == "error", "red", "green"),
                id="checkout-result",
            ),
        ),
        rx.hstack(
            rx.cond(
                CheckoutReturnState.next_path != "",
                rx.link(rx.button(tr("paid.back_to_photo")), href=CheckoutReturnState.next_path),
                rx.link(rx.button(tr("credits.enhance")), href="/"),
            ),
            rx.link(rx.button(tr("nav.credits"), variant="soft"), href="/credits"),
            spacing="3",
            wrap="wrap",
        ),
    )
