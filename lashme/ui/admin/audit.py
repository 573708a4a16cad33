"""``/admin/audit``: the admin audit log, filterable by action, admin, target and date range.

``/admin/audit?target_type=user&target_id=42`` opens it pre-filtered (the
user page links here).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import reflex as rx

from lashme import i18n
from lashme.app.admin import audit
from lashme.app.admin.guard import AdminRequired
from lashme.ui.admin.layout import admin_shell, admin_table
from lashme.ui.admin.paged import AdminPagerMixin, admin_pager
from lashme.ui.admin.state import AdminState
from lashme.ui.components.pager import FIRST
from lashme.ui.i18n import tr

PAGE_SIZE = 25
#: the filter fields and their longest accepted value (the audit table's column widths)
FILTER_LIMITS = {"action": 48, "actor": 254, "target_type": 24, "target_id": 128}
#: target types whose ids link to an admin page
TARGET_PAGES = {"user": "/admin/users/", "job": "/admin/jobs/"}


def compact_json(value: object) -> str:
    """``value`` as short one-line JSON (sorted keys, no spaces); ``—`` for None.

    Args:
        value: a ``before``/``after`` snapshot.

    Returns:
        The text shown in the audit table.
    """
    if value is None:
        return "—"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def parse_day(text: str) -> date | None:
    """A ``YYYY-MM-DD`` date input's value, or None when empty.

    Args:
        text: what the date field sent.

    Returns:
        The date, or None for an empty field.

    Raises:
        ValueError: not a date.
    """
    text = text.strip()
    if not text:
        return None
    if len(text) != 10:
        raise ValueError(f"not a YYYY-MM-DD date: {text[:20]!r}")
    return date.fromisoformat(text)


def _at_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class AdminAuditState(AdminPagerMixin, AdminState):
    """Filter fields, the known action names, one page of audit rows and the pager (:class:`AdminPagerMixin`)."""

    f_action: str = ""
    f_actor: str = ""
    f_target_type: str = ""
    f_target_id: str = ""
    f_from: str = ""
    f_to: str = ""
    action_names: list[str] = []
    rows: list[dict] = []
    total: int = 0

    def _filters(self) -> audit.AuditFilter:
        """The current fields as an :class:`AuditFilter` (``to`` is inclusive: up to the end of that day).

        Raises:
            ValueError: a date field is not a date.
        """
        since, until = parse_day(self.f_from), parse_day(self.f_to)
        return audit.AuditFilter(
            action=self.f_action,
            actor=self.f_actor.strip(),
            target_type=self.f_target_type.strip(),
            target_id=self.f_target_id.strip(),
            since=_at_midnight(since) if since else None,
            until=_at_midnight(until + timedelta(days=1)) if until else None,
        )

    def _load(self, move: str) -> None:
        """Fill the table (``move``: a pager move); raises AdminRequired (before any var changes) or ValueError."""
        filters = self._filters()
        token = self._page_token(move)

        def fetch(session, caller):
            names = audit.actions(session, caller)
            return names, audit.search(session, caller, filters, token=token, limit=PAGE_SIZE)

        names, found = self._service(fetch)
        loc = self.lang
        self.rows = [
            {
                "id": r.id,
                "when": i18n.format_dt(r.created_at, loc, fmt="medium"),
                "who": r.actor_email,
                "action": r.action,
                "target": f"{r.target_type} {r.target_id}",
                "target_href": TARGET_PAGES[r.target_type] + r.target_id
                if r.target_type in TARGET_PAGES
                else "",
                "reason": r.reason or "",
                "change": f"{compact_json(r.before)} → {compact_json(r.after)}",
            }
            for r in found.items
        ]
        self._show_page(move, found.next_token, found.prev_token)
        self.action_names, self.total = names, found.total or 0

    def _page(self, move: str = FIRST):
        """Show the page for ``move`` (the pager's handlers; the filters' too, from page 1)."""
        try:
            self._load(move)
        except AdminRequired:
            return self._turn_away()
        except (ValueError, OverflowError):  # OverflowError: 9999-12-31 + 1 day
            return rx.toast.error(self._tr("admin.audit.bad_date"))
        return None

    @rx.event
    def on_load(self):
        """Admins only: filters from the URL query (``action``, ``actor``, ``target_type``, ``target_id``)."""
        refused = self._open_admin_page("/admin/audit")
        if isinstance(refused, list):
            return refused
        query = self.router.url.query_parameters
        self.f_action, self.f_actor, self.f_target_type, self.f_target_id = (
            str(query.get(name, ""))[:limit] for name, limit in FILTER_LIMITS.items()
        )
        self.f_from = self.f_to = ""
        return self._page(FIRST)

    def _set(self, name: str, value: object) -> list | None:
        """Store one filter field for an admin; a refused caller gets the turn-away events instead."""
        if self._admin_id("audit.filter") is None:
            return self._turn_away()
        setattr(self, f"f_{name}", str(value)[: FILTER_LIMITS.get(name, 10)])
        return None

    @rx.event
    def set_action_filter(self, value: str):
        """Only one action (``all`` = every action); applies at once."""
        value = str(value)
        return self._set("action", "" if value == "all" else value) or self._page(FIRST)

    @rx.event
    def set_actor_filter(self, value: str):
        """Part of the acting admin's email (applied on submit)."""
        return self._set("actor", value)

    @rx.event
    def set_target_type_filter(self, value: str):
        """Target type, e.g. ``user`` (applied on submit)."""
        return self._set("target_type", value)

    @rx.event
    def set_target_id_filter(self, value: str):
        """Exact target id (applied on submit)."""
        return self._set("target_id", value)

    @rx.event
    def set_from_filter(self, value: str):
        """First day shown, ``YYYY-MM-DD`` (applied on submit)."""
        return self._set("from", value)

    @rx.event
    def set_to_filter(self, value: str):
        """Last day shown, inclusive (applied on submit)."""
        return self._set("to", value)

    @rx.event
    def apply_filters(self, form_data: dict | None = None):
        """Show page 1 for the current fields (``form_data`` is ignored: the fields are state)."""
        return self._page(FIRST)

    @rx.event
    def clear_filters(self):
        """Empty every field and show the whole log."""
        if self._admin_id("audit.filter") is None:
            return self._turn_away()
        self.f_action = self.f_actor = self.f_target_type = self.f_target_id = self.f_from = self.f_to = ""
        return self._page(FIRST)


ON_LOAD = AdminAuditState.on_load


def _field(label_key: str, control: rx.Component) -> rx.Component:
    """``control`` under its caption, both in one ``<label>``: the caption is the control's accessible name."""
    return rx.el.label(
        rx.text(tr(label_key), size="1", color_scheme="gray"),
        control,
        display="flex",
        flex_direction="column",
        gap="var(--space-1)",
        width=rx.breakpoints(initial="100%", sm="auto"),
    )


def _filters() -> rx.Component:
    s = AdminAuditState
    return rx.form(
        rx.flex(
            _field(
                "admin.audit.action",
                rx.select.root(
                    rx.select.trigger(
                        id="admin-audit-action", width="100%", aria_label=tr("admin.audit.action")
                    ),
                    rx.select.content(
                        rx.select.item(tr("admin.audit.all_actions"), value="all"),
                        rx.foreach(s.action_names, lambda a: rx.select.item(a, value=a)),
                    ),
                    value=rx.cond(s.f_action == "", "all", s.f_action),
                    on_change=s.set_action_filter,
                    size="2",
                ),
            ),
            _field(
                "admin.audit.admin",
                rx.input(
                    value=s.f_actor,
                    on_change=s.set_actor_filter,
                    name="actor",
                    id="admin-audit-actor",
                    width="100%",
                    max_length=254,
                ),
            ),
            _field(
                "admin.audit.target_type",
                rx.input(
                    value=s.f_target_type,
                    on_change=s.set_target_type_filter,
                    name="target_type",
                    id="admin-audit-target-type",
                    width="100%",
                    max_length=24,
                ),
            ),
            _field(
                "admin.audit.target_id",
                rx.input(
                    value=s.f_target_id,
                    on_change=s.set_target_id_filter,
                    name="target_id",
                    id="admin-audit-target-id",
                    width="100%",
                    max_length=128,
                ),
            ),
            _field(
                "admin.audit.from",
                rx.input(
                    value=s.f_from,
                    on_change=s.set_from_filter,
                    type="date",
                    name="from",
                    id="admin-audit-from",
                    width="100%",
                ),
            ),
            _field(
                "admin.audit.to",
                rx.input(
                    value=s.f_to,
                    on_change=s.set_to_filter,
                    type="date",
                    name="to",
                    id="admin-audit-to",
                    width="100%",
                ),
            ),
            rx.hstack(
                rx.button(tr("admin.audit.apply"), type="submit", id="admin-audit-apply", min_height="36px"),
                rx.button(
                    tr("admin.audit.clear"),
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=s.clear_filters,
                    id="admin-audit-clear",
                    min_height="36px",
                ),
                align_self="end",
            ),
            wrap="wrap",
            gap="3",
            width="100%",
        ),
        on_submit=s.apply_filters,
        reset_on_submit=False,
        width="100%",
    )


def _row(r) -> rx.Component:
    href = r["target_href"].to(str)
    return rx.table.row(
        rx.table.cell(r["when"].to(str), white_space="nowrap"),
        rx.table.cell(r["who"].to(str)),
        rx.table.cell(rx.code(r["action"].to(str))),
        rx.table.cell(
            rx.cond(
                href != "",
                # a one-digit "user 1" is narrower than a 44 px tap target on a phone
                rx.link(
                    r["target"].to(str),
                    href=href,
                    display="inline-flex",
                    align_items="center",
                    min_width="44px",
                    min_height="44px",
                ),
                rx.text(r["target"].to(str)),
            )
        ),
        rx.table.cell(r["reason"].to(str)),
        rx.table.cell(
            rx.text(r["change"].to(str), font_family="monospace", size="1", word_break="break-all"),
            min_width="14em",
        ),
        class_name="admin-audit-row",
    )


def page() -> rx.Component:
    """Filters, the audit table and the pager."""
    return admin_shell(
        "admin.nav.audit",
        _filters(),
        rx.text(tr("admin.audit.found"), " ", rx.text.strong(AdminAuditState.total, id="admin-audit-total")),
        admin_table(
            [
                "admin.audit.col_when",
                "admin.audit.col_who",
                "admin.audit.col_action",
                "admin.audit.col_target",
                "admin.audit.col_reason",
                "admin.audit.col_change",
            ],
            AdminAuditState.rows,
            _row,
            "admin-audit-table",
        ),
        admin_pager(AdminAuditState, "admin-audit-pager"),
    )
