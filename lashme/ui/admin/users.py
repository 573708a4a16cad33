"""``/admin/users``: find accounts by a part of their email; newest first, paginated."""

from __future__ import annotations

import reflex as rx

from lashme import i18n
from lashme.app.admin import users as admin_users
from lashme.app.admin.guard import AdminRequired
from lashme.ui.admin.layout import admin_shell, admin_table
from lashme.ui.admin.paged import AdminPagerMixin, admin_pager
from lashme.ui.admin.state import AdminState
from lashme.ui.components.pager import FIRST
from lashme.ui.i18n import tr

PAGE_SIZE = 25


class AdminUsersState(AdminPagerMixin, AdminState):
    """The search box, one page of matching users and the pager (:class:`AdminPagerMixin`)."""

    query: str = ""
    rows: list[dict] = []
    total: int = 0

    def _load(self, query: str, move: str) -> None:
        """Fill the page from the service (``move``: a pager move); raises AdminRequired before any var changes.

        A new ``query`` is always read from its first page (``FIRST``): the pager pages the search shown.
        """
        found = self._service(admin_users.search_users, query, token=self._page_token(move), limit=PAGE_SIZE)
        loc = self.lang
        self.rows = [
            {
                "id": str(r.id),
                "email": r.email,
                "created": i18n.format_dt(r.created_at, loc, fmt="short"),
                "available": r.available,
                "held": r.held,
                "blocked": r.blocked,
                "roles": ", ".join(r.roles),
                "jobs": r.jobs,
            }
            for r in found.items
        ]
        self._show_page(move, found.next_token, found.prev_token)
        self.query, self.total = query, found.total or 0

    @rx.event
    def on_load(self):
        """Admins only: the first page of the current search."""
        refused = self._open_admin_page("/admin/users")
        if isinstance(refused, list):
            return refused
        try:
            self._load(self.query, FIRST)
        except AdminRequired:
            return self._turn_away()
        return None

    @rx.event
    def run_search(self, form_data: dict):
        """Search for ``form_data["q"]`` (part of an email), from page 1."""
        q = form_data.get("q", "") if isinstance(form_data, dict) else ""
        query = q.strip()[: admin_users.MAX_QUERY] if isinstance(q, str) else ""
        try:
            self._load(query, FIRST)
        except AdminRequired:
            return self._turn_away()
        return None

    def _page(self, move: str):
        """The page of newer / older accounts of the search shown (the pager's handlers)."""
        try:
            self._load(self.query, move)
        except AdminRequired:
            return self._turn_away()
        return None


ON_LOAD = AdminUsersState.on_load


def _user_row(r) -> rx.Component:
    uid = r["id"].to(str)
    return rx.table.row(
        rx.table.cell(
            rx.link(
                r["email"].to(str),
                href="/admin/users/" + uid,
                id="admin-user-link-" + uid,
                class_name="admin-user-link",
            ),
            rx.cond(
                r["blocked"].to(bool),
                rx.badge(tr("admin.users.blocked"), color_scheme="red", margin_left="0.5em"),
            ),
            rx.cond(
                r["roles"].to(str) != "",
                rx.badge(r["roles"].to(str), color_scheme="violet", margin_left="0.5em"),
            ),
        ),
        rx.table.cell(r["created"].to(str)),
        rx.table.cell(r["available"].to(int)),
        rx.table.cell(r["held"].to(int)),
        rx.table.cell(r["jobs"].to(int)),
    )


def page() -> rx.Component:
    """Search form, results table and pager."""
    return admin_shell(
        "admin.nav.users",
        rx.form(
            rx.hstack(
                rx.input(
                    name="q",
                    placeholder=tr("admin.users.search"),
                    aria_label=tr("admin.users.search"),
                    id="admin-user-search",
                    size="3",
                    width="100%",
                    max_length=admin_users.MAX_QUERY,
                    default_value=AdminUsersState.query,
                ),
                rx.icon_button(
                    rx.icon("search", size=18),
                    type="submit",
                    size="3",
                    id="admin-user-search-go",
                    aria_label=tr("admin.users.search"),
                ),
                width="100%",
            ),
            on_submit=AdminUsersState.run_search,
            reset_on_submit=False,
            width="100%",
        ),
        rx.text(tr("admin.users.found"), " ", rx.text.strong(AdminUsersState.total, id="admin-users-total")),
        admin_table(
            [
                "admin.users.col_email",
                "admin.users.col_created",
                "admin.users.col_available",
                "admin.users.col_held",
                "admin.users.col_jobs",
            ],
            AdminUsersState.rows,
            _user_row,
            "admin-users-table",
        ),
        admin_pager(AdminUsersState, "admin-users-pager"),
    )
