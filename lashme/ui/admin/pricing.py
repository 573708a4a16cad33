"""``/admin/pricing``: prices and daily limits (edit + save each), credit packs (inline edit, new pack).

Prices are whole credits or jobs per day; pack prices are typed in major
units (``18.00``) and stored in minor units.  Changes apply to new jobs and
new checkouts only: open reservations and pending orders keep their amounts.
"""

from __future__ import annotations

import reflex as rx

from lashme import i18n
from lashme.app import admin
from lashme.app.admin import pricing as admin_pricing
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError
from lashme.ui.admin.layout import admin_shell, data_table
from lashme.ui.admin.ops_parts import major_units, minor_units
from lashme.ui.admin.state import AdminState
from lashme.ui.i18n import tr

PRICE_KEYS = admin.PRICE_KEYS
_EMPTY_PRICE = {"value": "", "updated": "", "range": ""}


def _checked(value: object) -> bool:
    """A form checkbox's value: ``"on"`` (or True) when ticked, absent when not."""
    return value is True or value in ("on", "true")


def _both(session, actor_id):
    return (
        admin_pricing.prices(session, actor_id),
        admin_pricing.packs(session, actor_id),
        admin_pricing.payments_setup(session, actor_id),
    )


class AdminPricingState(AdminState):
    """Prices, packs and the edit drafts of this admin's tab."""

    #: key → {"value", "updated", "range"} (display texts); every key is always present
    prices: dict[str, dict[str, str]] = {k: dict(_EMPTY_PRICE) for k in PRICE_KEYS}
    #: key → the text in the price's input
    drafts: dict[str, str] = {k: "" for k in PRICE_KEYS}
    packs: list[dict] = []
    #: id of the pack being edited inline (0 = none) and its draft fields
    editing: int = 0
    edit_credits: str = ""
    edit_price: str = ""
    edit_currency: str = "usd"
    edit_sort: str = ""
    edit_active: bool = True
    edit_popular: bool = False
    new_currency: str = "usd"
    new_active: bool = True
    new_popular: bool = False
    #: the lists were loaded for an admin (the edit handlers do nothing before that)
    loaded: bool = False
    #: Stripe Checkout works; else what to set (names only) and where Stripe posts
    stripe_configured: bool = True
    stripe_missing: str = ""
    stripe_webhook: str = ""

    def _clear(self) -> None:
        self.prices = {k: dict(_EMPTY_PRICE) for k in PRICE_KEYS}
        self.drafts = {k: "" for k in PRICE_KEYS}
        self.packs, self.editing, self.loaded = [], 0, False

    def _load(self) -> None:
        """Reload prices and packs through the services (raises AdminRequired for non-admins)."""
        price_rows, pack_rows, setup = self._service(_both)
        self.stripe_configured = setup.configured
        self.stripe_missing = ", ".join(setup.missing)
        self.stripe_webhook = setup.webhook_url
        loc = self.lang
        money = i18n.money_locale(loc)
        self.prices = {
            p.key: {
                "value": str(p.value),
                "updated": (
                    f"{i18n.format_dt(p.updated_at, loc, fmt='short')} · {p.updated_by}"
                    if p.updated_at
                    else "—"
                ),
                "range": f"{p.min_value}–{p.max_value}",
            }
            for p in price_rows
        }
        self.drafts = {p.key: str(p.value) for p in price_rows}
        self.packs = [
            {
                "id": p.id,
                "code": p.code,
                "credits": p.credits,
                "price": i18n.format_money(p.price_cents, p.currency, money),
                "price_text": major_units(p.price_cents, p.currency),
                "currency": p.currency,
                "active": p.active,
                "popular": p.popular,
                "sort_order": p.sort_order,
            }
            for p in pack_rows
        ]
        self.loaded = True

    @rx.event
    def on_load(self):
        """Admins only: load prices and packs."""
        self._clear()
        refused = self._open_admin_page("/admin/pricing")
        if isinstance(refused, list):
            return refused
        try:
            self._load()
        except AdminRequired:
            self._clear()
            return self._turn_away()
        return None

    @rx.event
    def set_draft(self, key: str, value: str):
        """Keep what the admin types into a price's input."""
        if self._admin_id("pricing.edit") is None:
            return self._turn_away()
        if self.loaded and key in PRICE_KEYS:
            self.drafts = {**self.drafts, key: str(value)[:12]}

    @rx.event
    def save_price(self, key: str):
        """Save one price/limit from its input."""
        key = str(key)
        try:
            row = self._service(admin_pricing.set_price, key, self.drafts.get(key, ""))
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self._load()
        return rx.toast.success(
            self._tr("admin.pricing.saved", name=self._tr(f"admin.pricing.key.{row.key}"), value=row.value)
        )

    @rx.event
    def start_edit(self, pack_id: int):
        """Edit a pack's row inline."""
        if self._admin_id("pricing.edit") is None:
            return self._turn_away()
        pack = next((p for p in self.packs if p["id"] == pack_id), None)
        if pack is None:
            return
        self.editing = pack["id"]
        self.edit_credits, self.edit_price = str(pack["credits"]), pack["price_text"]
        self.edit_currency, self.edit_sort = pack["currency"], str(pack["sort_order"])
        self.edit_active, self.edit_popular = bool(pack["active"]), bool(pack["popular"])

    @rx.event
    def cancel_edit(self):
        """Leave the inline edit without saving."""
        if self._admin_id("pricing.edit") is None:
            return self._turn_away()
        self.editing = 0

    @rx.event
    def set_edit_field(self, name: str, value: str):
        """Keep a text field of the inline edit (``credits``, ``price``, ``currency``, ``sort``)."""
        if self._admin_id("pricing.edit") is None:
            return self._turn_away()
        if self.editing and name in ("credits", "price", "currency", "sort"):
            setattr(self, f"edit_{name}", str(value)[:16])

    @rx.event
    def set_edit_flag(self, name: str, value: bool):
        """Keep a checkbox of the inline edit (``active``, ``popular``)."""
        if self._admin_id("pricing.edit") is None:
            return self._turn_away()
        if self.editing and name in ("active", "popular"):
            setattr(self, f"edit_{name}", bool(value))

    @rx.event
    def save_pack(self):
        """Save the pack being edited."""
        if not self.editing:
            return None
        try:
            price = minor_units(self.edit_price, self.edit_currency)
            row = self._service(
                admin_pricing.update_pack,
                int(self.editing),
                credits=self.edit_credits,
                price_cents=price,
                currency=self.edit_currency,
                active=self.edit_active,
                popular=self.edit_popular,
                sort_order=self.edit_sort,
            )
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self.editing = 0
        self._load()
        return rx.toast.success(self._tr("admin.pricing.pack_saved", code=row.code))

    @rx.event
    def set_new_currency(self, value: str):
        """The new pack's currency."""
        if self._admin_id("pricing.edit") is None:
            return self._turn_away()
        if self.loaded:
            self.new_currency = str(value)[:3]

    @rx.event
    def set_new_flag(self, name: str, value: bool):
        """A checkbox of the new pack form (``active``, ``popular``)."""
        if self._admin_id("pricing.edit") is None:
            return self._turn_away()
        if self.loaded and name in ("active", "popular"):
            setattr(self, f"new_{name}", bool(value))

    @rx.event
    def create_pack(self, form: dict):
        """Add a pack from the new pack form."""
        form = form if isinstance(form, dict) else {}
        try:
            price = minor_units(form.get("price", ""), self.new_currency)
            row = self._service(
                admin_pricing.create_pack,
                code=str(form.get("code", ""))[:64],
                credits=str(form.get("credits", ""))[:16],
                price_cents=price,
                currency=self.new_currency,
                popular=_checked(form.get("popular")),
                active=_checked(form.get("active")),
                sort_order=str(form.get("sort_order", "") or "0")[:16],
            )
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self._load()
        self.new_active, self.new_popular = True, False
        return [rx.set_value(f"admin-pack-new-{n}", "") for n in ("code", "credits", "price", "sort")] + [
            rx.toast.success(self._tr("admin.pricing.pack_created", code=row.code))
        ]


def price_row(key: str) -> rx.Component:
    """One price/limit: its name and meaning, the input, save, and who changed it last."""
    info = AdminPricingState.prices[key]
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.text(tr(f"admin.pricing.key.{key}"), weight="bold"),
                rx.text(tr(f"admin.pricing.meaning.{key}"), size="2", color_scheme="gray"),
                rx.text(
                    tr("admin.pricing.updated"), " ", info["updated"].to(str), size="1", color_scheme="gray"
                ),
                spacing="1",
                flex="1",
                min_width="200px",
            ),
            rx.hstack(
                rx.input(
                    value=AdminPricingState.drafts[key].to(str),
                    on_change=lambda v: AdminPricingState.set_draft(key, v),
                    id=f"admin-price-{key}",
                    input_mode="numeric",
                    size="3",
                    width="7em",
                    aria_label=tr(f"admin.pricing.key.{key}"),
                ),
                rx.button(
                    tr("admin.pricing.save"),
                    on_click=AdminPricingState.save_price(key),
                    id=f"admin-price-save-{key}",
                    size="3",
                ),
                rx.text(info["range"].to(str), size="1", color_scheme="gray"),
                align="center",
                spacing="2",
            ),
            wrap="wrap",
            gap="3",
            align="center",
            justify="between",
            width="100%",
        ),
        width="100%",
    )


def _currency_select(value: rx.Var, on_change, select_id: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=select_id, aria_label=tr("admin.pricing.col_currency")),
        rx.select.content(*[rx.select.item(c.upper(), value=c) for c in admin_pricing.CURRENCIES]),
        value=value,
        on_change=on_change,
    )


def _editing(p) -> rx.Var:
    return AdminPricingState.editing == p["id"].to(int)


def _edit_input(p, shown: rx.Var, value: rx.Var, field: str, width: str) -> rx.Component:
    return rx.cond(
        _editing(p),
        rx.input(
            value=value,
            on_change=lambda v: AdminPricingState.set_edit_field(field, v),
            id=f"admin-pack-edit-{field}",
            size="1",
            width=width,
        ),
        rx.text(shown),
    )


def _edit_flag(p, shown: rx.Var, value: rx.Var, field: str) -> rx.Component:
    return rx.cond(
        _editing(p),
        rx.checkbox(
            checked=value,
            on_change=lambda v: AdminPricingState.set_edit_flag(field, v),
            id=f"admin-pack-edit-{field}",
            aria_label=tr(f"admin.pricing.col_{field}"),
        ),
        rx.cond(shown, rx.icon("check", size=16), rx.text("—")),
    )


def _pack_actions(p) -> rx.Component:
    return rx.cond(
        _editing(p),
        rx.hstack(
            rx.button(
                tr("admin.pricing.save"), on_click=AdminPricingState.save_pack, size="1", id="admin-pack-save"
            ),
            rx.button(
                tr("admin.pricing.cancel"),
                on_click=AdminPricingState.cancel_edit,
                size="1",
                variant="soft",
                color_scheme="gray",
                id="admin-pack-cancel",
            ),
            spacing="1",
        ),
        rx.button(
            tr("admin.pricing.edit"),
            on_click=AdminPricingState.start_edit(p["id"].to(int)),
            size="1",
            variant="soft",
            id=f"admin-pack-{p['code'].to(str)}-edit",
        ),
    )


def packs_table() -> rx.Component:
    """Every pack with inline edit."""
    return data_table(
        [
            tr(k)
            for k in (
                "admin.pricing.col_code",
                "admin.pricing.col_credits",
                "admin.pricing.col_price",
                "admin.pricing.col_currency",
                "admin.pricing.col_active",
                "admin.pricing.col_popular",
                "admin.pricing.col_sort",
                "admin.pricing.col_actions",
            )
        ],
        AdminPricingState.packs,
        [
            lambda p: rx.code(p["code"].to(str)),
            lambda p: _edit_input(p, p["credits"].to(str), AdminPricingState.edit_credits, "credits", "6em"),
            lambda p: _edit_input(p, p["price"].to(str), AdminPricingState.edit_price, "price", "7em"),
            lambda p: rx.cond(
                _editing(p),
                _currency_select(
                    AdminPricingState.edit_currency,
                    lambda v: AdminPricingState.set_edit_field("currency", v),
                    "admin-pack-edit-currency",
                ),
                rx.text(p["currency"].to(str).upper()),
            ),
            lambda p: _edit_flag(p, p["active"].to(bool), AdminPricingState.edit_active, "active"),
            lambda p: _edit_flag(p, p["popular"].to(bool), AdminPricingState.edit_popular, "popular"),
            lambda p: _edit_input(p, p["sort_order"].to(str), AdminPricingState.edit_sort, "sort", "4em"),
            _pack_actions,
        ],
        "admin-packs-table",
    )


def new_pack_form() -> rx.Component:
    """Code, credits, price, currency, position, active, popular; wraps on a phone."""
    return rx.form(
        rx.flex(
            rx.input(
                name="code", placeholder=tr("admin.pricing.col_code"), id="admin-pack-new-code", width="9em"
            ),
            rx.input(
                name="credits",
                placeholder=tr("admin.pricing.col_credits"),
                id="admin-pack-new-credits",
                input_mode="numeric",
                width="7em",
            ),
            rx.input(
                name="price",
                placeholder=tr("admin.pricing.price_placeholder"),
                id="admin-pack-new-price",
                input_mode="decimal",
                width="7em",
            ),
            _currency_select(
                AdminPricingState.new_currency, AdminPricingState.set_new_currency, "admin-pack-new-currency"
            ),
            rx.input(
                name="sort_order",
                placeholder=tr("admin.pricing.col_sort"),
                id="admin-pack-new-sort",
                input_mode="numeric",
                width="5em",
            ),
            rx.checkbox(
                tr("admin.pricing.col_active"),
                checked=AdminPricingState.new_active,
                on_change=lambda v: AdminPricingState.set_new_flag("active", v),
                id="admin-pack-new-active",
                name="active",
            ),
            rx.checkbox(
                tr("admin.pricing.col_popular"),
                checked=AdminPricingState.new_popular,
                on_change=lambda v: AdminPricingState.set_new_flag("popular", v),
                id="admin-pack-new-popular",
                name="popular",
            ),
            rx.button(tr("admin.pricing.create"), type="submit", id="admin-pack-create"),
            wrap="wrap",
            gap="2",
            align="center",
            width="100%",
        ),
        on_submit=AdminPricingState.create_pack,
        reset_on_submit=False,
        width="100%",
        id="admin-pack-new",
    )


ON_LOAD = AdminPricingState.on_load


def page() -> rx.Component:
    """Prices and limits, then the packs and the new pack form."""
    return admin_shell(
        "admin.nav.pricing",
        rx.cond(
            ~AdminPricingState.stripe_configured & AdminPricingState.loaded,
            rx.callout(
                rx.vstack(
                    rx.text(tr("paid.admin_stripe_title"), weight="bold"),
                    rx.text(tr("paid.admin_stripe_set"), " ", rx.code(AdminPricingState.stripe_missing)),
                    rx.text(tr("paid.admin_stripe_webhook"), " ", rx.code(AdminPricingState.stripe_webhook)),
                    rx.text(tr("paid.admin_stripe_restart"), size="1"),
                    spacing="1",
                ),
                icon="credit_card",
                color_scheme="amber",
                width="100%",
                id="admin-stripe-setup",
            ),
        ),
        rx.callout(tr("admin.pricing.ledger_note"), icon="info", width="100%", size="1"),
        rx.heading(tr("admin.pricing.prices"), size="4", align_self="start"),
        rx.vstack(*[price_row(k) for k in PRICE_KEYS], width="100%", spacing="2", id="admin-prices"),
        rx.heading(tr("admin.pricing.packs"), size="4", align_self="start"),
        packs_table(),
        rx.heading(tr("admin.pricing.new_pack"), size="5", align_self="start"),
        new_pack_form(),
    )
