"""``/admin/payments``: credit-pack orders (status and email filters) and the Stripe webhook log."""

from __future__ import annotations

import reflex as rx

from lashme import i18n
from lashme.app.admin import payments as admin_payments
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError
from lashme.ui.admin.layout import admin_shell, data_table
from lashme.ui.admin.state import AdminState
from lashme.ui.components.pager import FIRST, NEXT, PREV, advance, pager, shown, token_for
from lashme.ui.i18n import tr

PAGE_SIZE = 25
ALL = "all"


class AdminPaymentsState(AdminState):
    """One page of orders and one page of webhook events, with their filters."""

    orders: list[dict] = []
    orders_total: int = 0
    orders_page_no: int = 1
    orders_has_prev: bool = False
    orders_has_next: bool = False
    _orders_cursor: dict = {}
    status_filter: str = ""
    email_filter: str = ""
    events: list[dict] = []
    events_total: int = 0
    events_page_no: int = 1
    events_has_prev: bool = False
    events_has_next: bool = False
    _events_cursor: dict = {}
    type_filter: str = ""
    result_filter: str = ""
    event_types: list[str] = []
    event_results: list[str] = []

    def _clear(self) -> None:
        self.orders, self.orders_total, self._orders_cursor = [], 0, {}
        self.events, self.events_total, self._events_cursor = [], 0, {}
        self.orders_page_no, self.orders_has_prev, self.orders_has_next = shown({})
        self.events_page_no, self.events_has_prev, self.events_has_next = shown({})
        self.event_types, self.event_results = [], []

    def _load_orders(self, move: str) -> None:
        found = self._service(
            admin_payments.orders,
            status=self.status_filter,
            email=self.email_filter,
            token=token_for(self._orders_cursor, move),
            limit=PAGE_SIZE,
        )
        loc = self.lang
        money = i18n.money_locale(loc)
        self.orders = [
            {
                "id": o.id,
                "email": o.email,
                "user_id": o.user_id,
                "pack": o.pack_code,
                "credits": o.credits,
                "amount": i18n.format_money(o.amount_cents, o.currency, money),
                "status": o.status,
                "status_label": i18n.translate(f"order.{o.status}", loc),
                "refunded": i18n.format_money(o.refunded_cents, o.currency, money)
                if o.refunded_cents
                else "—",
                "shortfall": str(o.shortfall) if o.shortfall else "—",
                "created": i18n.format_dt(o.created_at, loc, fmt="short"),
                "credited": i18n.format_dt(o.credited_at, loc, fmt="short") if o.credited_at else "—",
            }
            for o in found.items
        ]
        self._orders_cursor = advance(self._orders_cursor, move, found.next_token, found.prev_token)
        self.orders_total = found.total or 0
        self.orders_page_no, self.orders_has_prev, self.orders_has_next = shown(self._orders_cursor)

    def _load_events(self, move: str) -> None:
        found = self._service(
            admin_payments.webhook_log,
            type=self.type_filter,
            result=self.result_filter,
            token=token_for(self._events_cursor, move),
            limit=PAGE_SIZE,
        )
        loc = self.lang
        self.events = [
            {
                "id": e.id,
                "type": e.type,
                "order": e.order_id or "—",
                "result": e.result,
                "detail": e.detail or "",
                "received": i18n.format_dt(e.received_at, loc, fmt="short"),
            }
            for e in found.items
        ]
        self._events_cursor = advance(self._events_cursor, move, found.next_token, found.prev_token)
        self.events_total = found.total or 0
        self.events_page_no, self.events_has_prev, self.events_has_next = shown(self._events_cursor)

    def _refresh(self, *, orders: str | None = FIRST, events: str | None = FIRST, **changes: object):
        """Apply filter ``changes`` and reload; a refused caller or a bad filter keeps the old values.

        ``orders``/``events`` are the pager moves of the two lists (None: that list stays as it is).

        Returns:
            The events for a refused caller or a bad filter, else None.
        """
        before = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            if orders:
                self._load_orders(orders)
            if events:
                self._load_events(events)
        except AdminRequired:
            for name, value in before.items():
                setattr(self, name, value)
            self._clear()
            return self._turn_away()
        except DomainError as exc:
            for name, value in before.items():
                setattr(self, name, value)
            return rx.toast.error(self._err(exc))
        return None

    @rx.event
    def on_load(self):
        """Admins only: first page of both lists, filters cleared."""
        self._clear()
        self.status_filter = self.email_filter = self.type_filter = self.result_filter = ""
        refused = self._open_admin_page("/admin/payments")
        if isinstance(refused, list):
            return refused
        try:
            self.event_types, self.event_results = self._service(admin_payments.webhook_filters)
        except AdminRequired:
            self._clear()
            return self._turn_away()
        return self._refresh()

    @rx.event
    def set_status_filter(self, value: str):
        """Orders in one status (``all`` = any)."""
        value = str(value)
        status = value if value in admin_payments.ORDER_STATUSES else ""
        return self._refresh(events=None, status_filter=status)

    @rx.event
    def search_email(self, form: dict):
        """Orders whose buyer's email contains the typed text."""
        email = str(form.get("email", "") if isinstance(form, dict) else "").strip()[:254]
        return self._refresh(events=None, email_filter=email)

    @rx.event
    def newer_orders(self):
        """The newer orders before this page (the first page when there are none)."""
        return self._refresh(orders=PREV, events=None)

    @rx.event
    def older_orders(self):
        """The older orders after this page."""
        return self._refresh(orders=NEXT, events=None)

    @rx.event
    def set_type_filter(self, value: str):
        """Events of one type (``all`` = any)."""
        value = str(value)
        return self._refresh(orders=None, type_filter=value if value in self.event_types else "")

    @rx.event
    def set_result_filter(self, value: str):
        """Events with one result (``all`` = any)."""
        value = str(value)
        result = value if value in self.event_results else ""
        return self._refresh(orders=None, result_filter=result)

    @rx.event
    def newer_events(self):
        """The newer webhook events before this page (the first page when there are none)."""
        return self._refresh(orders=None, events=PREV)

    @rx.event
    def older_events(self):
        """The older webhook events after this page."""
        return self._refresh(orders=None, events=NEXT)


def _status_badge(o) -> rx.Component:
    return rx.badge(
        o["status_label"].to(str),
        color_scheme=rx.match(
            o["status"].to(str),
            ("paid", "green"),
            ("pending", "amber"),
            ("failed", "gray"),
            "red",
        ),
    )


def order_filters() -> rx.Component:
    """Status select and email search; wraps on a phone."""
    return rx.flex(
        rx.select.root(
            rx.select.trigger(id="admin-orders-status", aria_label=tr("admin.payments.col_status")),
            rx.select.content(
                rx.select.item(tr("admin.payments.any_status"), value=ALL),
                *[rx.select.item(tr(f"order.{s}"), value=s) for s in admin_payments.ORDER_STATUSES],
            ),
            value=rx.cond(AdminPaymentsState.status_filter == "", ALL, AdminPaymentsState.status_filter),
            on_change=AdminPaymentsState.set_status_filter,
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="email",
                    placeholder=tr("admin.payments.email_placeholder"),
                    id="admin-orders-email",
                    aria_label=tr("admin.payments.email_placeholder"),
                    default_value=AdminPaymentsState.email_filter,
                    max_length=254,
                ),
                rx.icon_button(
                    rx.icon("search", size=16),
                    type="submit",
                    id="admin-orders-email-go",
                    aria_label=tr("admin.users.search"),
                ),
                spacing="1",
            ),
            on_submit=AdminPaymentsState.search_email,
            reset_on_submit=False,
        ),
        wrap="wrap",
        gap="2",
        width="100%",
    )


def orders_table() -> rx.Component:
    """One page of orders."""
    return data_table(
        [
            tr(k)
            for k in (
                "admin.payments.col_created",
                "admin.payments.col_buyer",
                "admin.payments.col_pack",
                "admin.payments.col_credits",
                "admin.payments.col_amount",
                "admin.payments.col_status",
                "admin.payments.col_refunded",
                "admin.payments.col_shortfall",
                "admin.payments.col_credited",
                "admin.payments.col_order",
            )
        ],
        AdminPaymentsState.orders,
        [
            lambda o: o["created"].to(str),
            lambda o: rx.link(o["email"].to(str), href=f"/admin/users/{o['user_id'].to(str)}"),
            lambda o: o["pack"].to(str),
            lambda o: o["credits"].to(str),
            lambda o: o["amount"].to(str),
            _status_badge,
            lambda o: o["refunded"].to(str),
            lambda o: o["shortfall"].to(str),
            lambda o: o["credited"].to(str),
            lambda o: rx.code(o["id"].to(str), size="1"),
        ],
        "admin-orders-table",
    )


def event_filters() -> rx.Component:
    """Type and result selects (values found in the log)."""
    return rx.flex(
        rx.select.root(
            rx.select.trigger(id="admin-webhooks-type", aria_label=tr("admin.payments.col_type")),
            rx.select.content(
                rx.select.item(tr("admin.payments.any_type"), value=ALL),
                rx.foreach(AdminPaymentsState.event_types, lambda t: rx.select.item(t, value=t)),
            ),
            value=rx.cond(AdminPaymentsState.type_filter == "", ALL, AdminPaymentsState.type_filter),
            on_change=AdminPaymentsState.set_type_filter,
        ),
        rx.select.root(
            rx.select.trigger(id="admin-webhooks-result", aria_label=tr("admin.payments.col_result")),
            rx.select.content(
                rx.select.item(tr("admin.payments.any_result"), value=ALL),
                rx.foreach(AdminPaymentsState.event_results, lambda t: rx.select.item(t, value=t)),
            ),
            value=rx.cond(AdminPaymentsState.result_filter == "", ALL, AdminPaymentsState.result_filter),
            on_change=AdminPaymentsState.set_result_filter,
        ),
        wrap="wrap",
        gap="2",
        width="100%",
    )


def events_table() -> rx.Component:
    """One page of the webhook log."""
    return data_table(
        [
            tr(k)
            for k in (
                "admin.payments.col_received",
                "admin.payments.col_type",
                "admin.payments.col_result",
                "admin.payments.col_order",
                "admin.payments.col_event",
                "admin.payments.col_detail",
            )
        ],
        AdminPaymentsState.events,
        [
            lambda e: e["received"].to(str),
            lambda e: e["type"].to(str),
            lambda e: rx.badge(e["result"].to(str), variant="soft"),
            lambda e: rx.code(e["order"].to(str), size="1"),
            lambda e: rx.code(e["id"].to(str), size="1"),
            lambda e: e["detail"].to(str),
        ],
        "admin-webhooks-table",
    )


ON_LOAD = AdminPaymentsState.on_load


def page() -> rx.Component:
    """Orders, then the webhook log."""
    return admin_shell(
        "admin.nav.payments",
        rx.heading(tr("admin.payments.orders"), size="4", align_self="start"),
        order_filters(),
        rx.text(
            tr("admin.payments.found"),
            " ",
            AdminPaymentsState.orders_total,
            size="2",
            color_scheme="gray",
            align_self="start",
        ),
        orders_table(),
        pager(
            AdminPaymentsState.orders_page_no,
            AdminPaymentsState.orders_has_prev,
            AdminPaymentsState.orders_has_next,
            AdminPaymentsState.newer_orders,
            AdminPaymentsState.older_orders,
            id="admin-orders-pager",
        ),
        rx.heading(tr("admin.payments.webhooks"), size="4", align_self="start"),
        event_filters(),
        rx.text(
            tr("admin.payments.found"),
            " ",
            AdminPaymentsState.events_total,
            size="2",
            color_scheme="gray",
            align_self="start",
        ),
        events_table(),
        pager(
            AdminPaymentsState.events_page_no,
            AdminPaymentsState.events_has_prev,
            AdminPaymentsState.events_has_next,
            AdminPaymentsState.newer_events,
            AdminPaymentsState.older_events,
            id="admin-webhooks-pager",
        ),
    )
