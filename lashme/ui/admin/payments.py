"""``/admin/payments``: credit-pack orders (status and email filters) and the Stripe webhook log."""

from __future__ import annotations

import reflex as rx

from lashme import i18n
from lashme.app.admin import payments as admin_payments
from lashme.app.admin.guard import AdminRequired
from lashme.app.paging import clamp_page
from lashme.errors import DomainError
from lashme.ui.admin.layout import admin_shell, data_table
from lashme.ui.admin.state import AdminState
from lashme.ui.components.pager import pager
from lashme.ui.i18n import tr

PAGE_SIZE = 25
ALL = "all"


def _pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


class AdminPaymentsState(AdminState):
    """One page of orders and one page of webhook events, with their filters."""

    orders: list[dict] = []
    orders_total: int = 0
    orders_page: int = 1
    orders_pages: int = 1
    status_filter: str = ""
    email_filter: str = ""
    events: list[dict] = []
    events_total: int = 0
    events_page: int = 1
    events_pages: int = 1
    type_filter: str = ""
    result_filter: str = ""
    event_types: list[str] = []
    event_results: list[str] = []

    def _clear(self) -> None:
        self.orders, self.orders_total, self.orders_pages = [], 0, 1
        self.events, self.events_total, self.events_pages = [], 0, 1
        self.event_types, self.event_results = [], []

    def _load_orders(self) -> None:
        rows, total = self._service(
            admin_payments.orders,
            status=self.status_filter,
            email=self.email_filter,
            page=self.orders_page,
            page_size=PAGE_SIZE,
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
            for o in rows
        ]
        self.orders_total, self.orders_pages = total, _pages(total)

    def _load_events(self) -> None:
        rows, total = self._service(
            admin_payments.webhook_log,
            type=self.type_filter,
            result=self.result_filter,
            page=self.events_page,
            page_size=PAGE_SIZE,
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
            for e in rows
        ]
        self.events_total, self.events_pages = total, _pages(total)

    def _refresh(self, *, orders: bool = True, events: bool = True, **changes: object):
        """Apply filter/page ``changes`` and reload; a refused caller or a bad filter keeps the old values.

        Returns:
            The events for a refused caller or a bad filter, else None.
        """
        before = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            if orders:
                self._load_orders()
            if events:
                self._load_events()
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
        self.orders_page = self.events_page = 1
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
        return self._refresh(events=False, status_filter=status, orders_page=1)

    @rx.event
    def search_email(self, form: dict):
        """Orders whose buyer's email contains the typed text."""
        email = str(form.get("email", "") if isinstance(form, dict) else "").strip()[:254]
        return self._refresh(events=False, email_filter=email, orders_page=1)

    @rx.event
    def go_to_orders_page(self, page: int):
        """Orders page ``page`` (1-based, clamped)."""
        return self._refresh(events=False, orders_page=clamp_page(page, self.orders_pages))

    @rx.event
    def set_type_filter(self, value: str):
        """Events of one type (``all`` = any)."""
        value = str(value)
        return self._refresh(
            orders=False, type_filter=value if value in self.event_types else "", events_page=1
        )

    @rx.event
    def set_result_filter(self, value: str):
        """Events with one result (``all`` = any)."""
        value = str(value)
        result = value if value in self.event_results else ""
        return self._refresh(orders=False, result_filter=result, events_page=1)

    @rx.event
    def go_to_events_page(self, page: int):
        """Webhook log page ``page`` (1-based, clamped)."""
        return self._refresh(orders=False, events_page=clamp_page(page, self.events_pages))


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
            rx.select.trigger(id="admin-orders-status"),
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
                    default_value=AdminPaymentsState.email_filter,
                    max_length=254,
                ),
                rx.icon_button(rx.icon("search", size=16), type="submit", id="admin-orders-email-go"),
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
            rx.select.trigger(id="admin-webhooks-type"),
            rx.select.content(
                rx.select.item(tr("admin.payments.any_type"), value=ALL),
                rx.foreach(AdminPaymentsState.event_types, lambda t: rx.select.item(t, value=t)),
            ),
            value=rx.cond(AdminPaymentsState.type_filter == "", ALL, AdminPaymentsState.type_filter),
            on_change=AdminPaymentsState.set_type_filter,
        ),
        rx.select.root(
            rx.select.trigger(id="admin-webhooks-result"),
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
        rx.box(
            pager(
                AdminPaymentsState.orders_page,
                AdminPaymentsState.orders_pages,
                AdminPaymentsState.go_to_orders_page,
            ),
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
        rx.box(
            pager(
                AdminPaymentsState.events_page,
                AdminPaymentsState.events_pages,
                AdminPaymentsState.go_to_events_page,
            ),
            id="admin-webhooks-pager",
        ),
    )
