"""``/admin/users/[user_id]``: one account — balance, block, roles, credit adjustment, jobs, orders, ledger.

The credit form's idempotency key is made on the server (backend-only
``_adjust_key``) when the page opens, and renewed only when the form is edited
after a submission was applied.  A double click sends the same form twice;
both carry the same key, so the second is a ledger replay that changes
nothing and writes no audit row.
"""

from __future__ import annotations

import uuid

import reflex as rx

from lashme import i18n
from lashme.app import admin
from lashme.app.admin import ROLE_NAMES, accounts
from lashme.app.admin import users as admin_users
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError, NotFound
from lashme.ui.admin.layout import admin_shell, data_table
from lashme.ui.admin.state import AdminState
from lashme.ui.components.pager import FIRST, NEXT, PREV, SAME, advance, pager, shown, token_for
from lashme.ui.components.table import scroll_table
from lashme.ui.i18n import tr

LEDGER_PAGE_SIZE = 20
#: the ledger's columns: (header key, row key); the rows are :meth:`AdminUserState._load`'s
LEDGER_COLUMNS = (
    ("col.date", "date"),
    ("col.what", "kind"),
    ("col.change", "delta"),
    ("admin.user.col_held", "held"),
    ("col.balance", "balance"),
    ("col.reason", "reason"),
    ("admin.user.col_actor", "actor"),
)


def _fetch(session, caller, uid: int, token: str | None):
    """The user's details and one ledger page in one transaction (each call checks the role)."""
    detail = admin_users.user_detail(session, caller, uid)
    return detail, admin_users.ledger_page(session, caller, uid, token, LEDGER_PAGE_SIZE)


def _signed(n: int) -> str:
    return f"{n:+d}" if n else "0"


class AdminUserState(AdminState):
    """The shown account (``shown_id``) and the admin's forms for it."""

    shown_id: int = 0
    not_found: bool = False
    u_email: str = ""
    u_created: str = ""
    u_blocked: bool = False
    u_roles: list[str] = []
    u_available: int = 0
    u_held: int = 0
    u_job_count: int = 0
    is_self: bool = False
    jobs: list[dict] = []
    orders: list[dict] = []
    ledger_rows: list[dict] = []
    ledger_page_no: int = 1
    ledger_has_prev: bool = False
    ledger_has_next: bool = False
    _ledger_cursor: dict = {}
    amount: str = ""
    reason: str = ""
    _adjust_key: str = ""
    _adjust_used: bool = False

    def _route_user_id(self) -> int:
        parts = [p for p in self.router.url.path.split("/") if p]
        raw = parts[2] if len(parts) >= 3 and parts[:2] == ["admin", "users"] else ""
        return int(raw) if raw.isdigit() and len(raw) <= 18 else 0

    def _clear(self) -> None:
        self.shown_id, self.u_email, self.u_created, self.u_blocked = 0, "", "", False
        self.u_roles, self.u_available, self.u_held, self.u_job_count = [], 0, 0, 0
        self.is_self, self.jobs, self.orders, self.ledger_rows = False, [], [], []
        self._ledger_cursor = {}
        self.ledger_page_no, self.ledger_has_prev, self.ledger_has_next = shown({})

    def _reset_form(self) -> None:
        """Empty the credit form and give it a fresh idempotency key."""
        self.amount, self.reason = "", ""
        self._adjust_key, self._adjust_used = uuid.uuid4().hex, False

    def _edited(self) -> None:
        """The form changed: once its key was used, the next submission is a new adjustment."""
        if self._adjust_used or not self._adjust_key:
            self._adjust_key, self._adjust_used = uuid.uuid4().hex, False

    def _load(self, uid: int, move: str) -> None:
        """Fill every data var for ``uid``; ``move`` is the ledger pager's move.

        Raises:
            AdminRequired: the caller is not an admin (no var changed).
            NotFound: no such user (no var changed).
        """
        caller = self._caller()
        cursor = self._ledger_cursor if uid == self.shown_id else {}
        detail, rows = admin.run(caller, _fetch, uid, token_for(cursor, move))
        loc = self.lang
        money = i18n.money_locale(loc)
        self.shown_id, self.not_found, self.is_self = detail.id, False, detail.id == caller.user_id
        self.u_email, self.u_blocked, self.u_roles = detail.email, detail.blocked, detail.roles
        self.u_created = i18n.format_dt(detail.created_at, loc, fmt="short")
        self.u_available, self.u_held, self.u_job_count = detail.available, detail.held, detail.job_count
        self.jobs = [
            {
                "id": j.id,
                "status": i18n.translate(f"status.{j.status}", loc),
                "created": i18n.format_dt(j.created_at, loc, fmt="short"),
                "provider": j.provider,
            }
            for j in detail.jobs
        ]
        self.orders = [
            {
                "id": o.id,
                "date": i18n.format_dt(o.created_at, loc, fmt="short"),
                "pack": i18n.translate_plural("plural.credits", o.credits, loc),
                "amount": i18n.format_money(o.amount_cents, o.currency, money),
                "status": i18n.translate(f"order.{o.status}", loc),
            }
            for o in detail.orders
        ]
        self.ledger_rows = [
            {
                "id": e.id,
                "date": i18n.format_dt(e.created_at, loc, fmt="short"),
                "kind": i18n.translate(f"kind.{e.kind}", loc),
                "delta": _signed(e.delta),
                "held": _signed(e.held_delta),
                "balance": e.balance_after,
                "reason": e.reason,
                "actor": e.actor,
            }
            for e in rows.items
        ]
        self._ledger_cursor = advance(cursor, move, rows.next_token, rows.prev_token)
        self.ledger_page_no, self.ledger_has_prev, self.ledger_has_next = shown(self._ledger_cursor)

    @rx.event
    def on_load(self):
        """Admins only: the account named in the URL, a fresh credit form."""
        uid = self._route_user_id()
        refused = self._open_admin_page(f"/admin/users/{uid}" if uid else "/admin/users")
        if isinstance(refused, list):
            return refused
        self._reset_form()
        try:
            self._load(uid, FIRST)
        except AdminRequired:
            return self._turn_away()
        except NotFound:
            self._clear()
            self.not_found = True
        return None

    @rx.event
    def set_amount(self, value: str):
        """The credit form's amount field (text as typed); admins only."""
        if self._admin_id("users.form") is None:
            return self._turn_away()
        self.amount = str(value)[:12]
        self._edited()
        return None

    @rx.event
    def set_reason(self, value: str):
        """The credit form's reason field; admins only."""
        if self._admin_id("users.form") is None:
            return self._turn_away()
        self.reason = str(value)[: accounts.MAX_REASON]
        self._edited()
        return None

    @rx.event
    def submit_adjust(self, form_data: dict):
        """Add or remove credits for the account in the URL, as the form showed them when it was sent.

        Args:
            form_data: ``amount`` (whole credits, signed) and ``reason``.
        """
        data = form_data if isinstance(form_data, dict) else {}
        amount, reason = data.get("amount", ""), data.get("reason", "")
        try:
            delta = int(str(amount).strip()[:12])
        except ValueError:
            delta = 0  # refused by the service as admin.bad_amount (after the role check)
        if not self._adjust_key:
            self._edited()
        uid = self._route_user_id()
        try:
            result = self._service(
                accounts.adjust_credits,
                uid,
                delta,
                reason if isinstance(reason, str) else "",
                idempotency_key=self._adjust_key,
            )
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        if not result.created:  # the second click of a double click: already applied
            return None
        self.amount, self.reason, self._adjust_used = "", "", True
        return self._reload(
            uid, rx.toast.success(self._tr("admin.user.adjusted", available=result.available))
        )

    def _reload(self, uid: int, ok_event=None, move: str = SAME):
        """Show account ``uid`` again after a change (ledger pager ``move``, default the page shown).

        Returns:
            ``ok_event``, or the turn-away events when the caller is no admin any more.
        """
        try:
            self._load(uid, move)
        except AdminRequired:
            return self._turn_away()
        except NotFound:
            self._clear()
            self.not_found = True
        self._refresh_user()
        return ok_event

    @rx.event
    def set_blocked(self, user_id: int, blocked: bool):
        """Block (True) or unblock (False) account ``user_id``."""
        if not isinstance(blocked, bool):
            return None
        try:
            self._service(accounts.set_blocked, user_id, blocked)
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        key = "admin.user.blocked" if blocked else "admin.user.unblocked"
        return self._reload(int(user_id), rx.toast.success(self._tr(key)))

    @rx.event
    def change_role(self, user_id: int, role: str, granted: bool):
        """Grant (``granted``) or revoke ``role`` (``admin``/``super_admin``) of ``user_id``; super admins only."""
        if role not in ROLE_NAMES or not isinstance(granted, bool):
            return None
        try:
            self._service(accounts.set_role, user_id, role, granted)
        except AdminRequired as exc:
            if exc.key == "admin.super_required":  # still an admin, just not a super admin
                return rx.toast.error(self._err(exc))
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        return self._reload(int(user_id), rx.toast.success(self._tr("admin.user.roles_saved")))

    @rx.event
    def newer_ledger(self):
        """Show the newer ledger entries before this page (the newest when there are none)."""
        return self._reload(self.shown_id, move=PREV)

    @rx.event
    def older_ledger(self):
        """Show the older ledger entries after this page."""
        return self._reload(self.shown_id, move=NEXT)


ON_LOAD = AdminUserState.on_load


def _role_button(role: str) -> rx.Component:
    held = AdminUserState.u_roles.contains(role)
    return rx.button(
        rx.cond(held, tr(f"admin.user.revoke_{role}"), tr(f"admin.user.grant_{role}")),
        on_click=AdminUserState.change_role(AdminUserState.shown_id, role, ~held),
        variant=rx.cond(held, "outline", "soft"),
        color_scheme=rx.cond(held, "red", "violet"),
        id=f"admin-role-{role}",
        min_height="44px",
    )


def _summary() -> rx.Component:
    s = AdminUserState
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(s.u_email, size="5", id="admin-user-email", word_break="break-all"),
                rx.cond(
                    s.u_blocked,
                    rx.badge(tr("admin.users.blocked"), color_scheme="red", id="admin-user-blocked"),
                ),
                rx.foreach(s.u_roles, lambda r: rx.badge(r, color_scheme="violet")),
                wrap="wrap",
                align="center",
            ),
            rx.text(tr("admin.user.since"), " ", s.u_created, size="2", color_scheme="gray"),
            rx.hstack(
                rx.text(
                    tr("admin.user.available"), " ", rx.text.strong(s.u_available, id="admin-user-available")
                ),
                rx.text(tr("admin.user.held"), " ", rx.text.strong(s.u_held, id="admin-user-held")),
                rx.text(tr("admin.user.jobs_total"), " ", rx.text.strong(s.u_job_count)),
                wrap="wrap",
                spacing="4",
            ),
            rx.flex(
                rx.button(
                    rx.cond(s.u_blocked, tr("admin.user.unblock"), tr("admin.user.block")),
                    on_click=AdminUserState.set_blocked(s.shown_id, ~s.u_blocked),
                    color_scheme=rx.cond(s.u_blocked, "green", "red"),
                    variant="soft",
                    disabled=s.is_self,
                    id="admin-user-block",
                    min_height="44px",
                ),
                rx.cond(s.is_super, rx.fragment(*[_role_button(r) for r in ROLE_NAMES])),
                rx.link(
                    rx.button(tr("admin.user.audit_link"), variant="ghost", min_height="44px"),
                    href="/admin/audit?target_type=user&target_id=" + s.shown_id.to(str),
                    id="admin-user-audit-link",
                ),
                wrap="wrap",
                gap="2",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _adjust_form() -> rx.Component:
    s = AdminUserState
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(tr("admin.user.adjust_title"), size="4"),
                rx.text(tr("admin.user.adjust_hint"), size="2", color_scheme="gray"),
                rx.flex(
                    rx.input(
                        value=s.amount,
                        on_change=s.set_amount,
                        type="number",
                        step=1,
                        min=-accounts.MAX_ADJUST,
                        max=accounts.MAX_ADJUST,
                        placeholder=tr("admin.user.amount"),
                        name="amount",
                        id="admin-adjust-amount",
                        size="3",
                        width=rx.breakpoints(initial="100%", sm="9em"),
                    ),
                    rx.input(
                        value=s.reason,
                        on_change=s.set_reason,
                        max_length=accounts.MAX_REASON,
                        placeholder=tr("admin.user.reason"),
                        name="reason",
                        id="admin-adjust-reason",
                        size="3",
                        flex_grow="1",
                        width=rx.breakpoints(initial="100%", sm="auto"),
                    ),
                    rx.button(
                        tr("admin.user.adjust_submit"),
                        type="submit",
                        disabled=(s.amount == "") | (s.reason == ""),
                        id="admin-adjust-submit",
                        size="3",
                    ),
                    wrap="wrap",
                    gap="2",
                    width="100%",
                ),
                spacing="2",
                width="100%",
            ),
            on_submit=AdminUserState.submit_adjust,
            reset_on_submit=False,
            width="100%",
        ),
        width="100%",
    )


def _body() -> rx.Component:
    s = AdminUserState
    return rx.vstack(
        _summary(),
        _adjust_form(),
        rx.heading(tr("admin.user.jobs"), size="5", align_self="start"),
        rx.cond(
            s.jobs.length() > 0,
            data_table(
                ["admin.user.col_job", "col.status", "col.date", "admin.user.col_provider"],
                s.jobs,
                [
                    lambda r: rx.link(
                        r["id"].to(str)[:8],
                        href="/admin/jobs/" + r["id"].to(str),
                        class_name="admin-user-job-link",
                        font_family="monospace",
                    ),
                    lambda r: r["status"],
                    lambda r: r["created"],
                    lambda r: r["provider"],
                ],
                "admin-user-jobs",
            ),
            rx.text(tr("admin.user.no_jobs"), color_scheme="gray", align_self="start"),
        ),
        rx.heading(tr("admin.user.orders"), size="5", align_self="start"),
        rx.cond(
            s.orders.length() > 0,
            data_table(
                ["col.date", "col.pack", "col.amount", "col.status"],
                s.orders,
                [lambda r: r["date"], lambda r: r["pack"], lambda r: r["amount"], lambda r: r["status"]],
                "admin-user-orders",
            ),
            rx.text(tr("admin.user.no_orders"), color_scheme="gray", align_self="start"),
        ),
        rx.heading(tr("admin.user.ledger"), size="5", align_self="start"),
        scroll_table(
            [tr(header) for header, _ in LEDGER_COLUMNS],
            s.ledger_rows,
            [lambda r, key=key: r[key] for _, key in LEDGER_COLUMNS],
            "admin-user-ledger",
        ),
        pager(
            s.ledger_page_no,
            s.ledger_has_prev,
            s.ledger_has_next,
            AdminUserState.newer_ledger,
            AdminUserState.older_ledger,
            id="admin-user-ledger-pager",
        ),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    """The account's summary, actions, credit form, jobs, orders and ledger."""
    return admin_shell(
        "admin.user.title",
        rx.link(tr("admin.user.back"), href="/admin/users", id="admin-user-back", align_self="start"),
        rx.cond(
            AdminUserState.not_found,
            rx.callout(tr("admin.user_not_found"), icon="info", color_scheme="gray", width="100%"),
            rx.cond(AdminUserState.shown_id > 0, _body()),
        ),
    )
