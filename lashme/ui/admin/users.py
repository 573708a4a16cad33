"""``/admin/users``: find accounts by a part of their email; newest first, paginated."""

from __future__ import annotations

import reflex as rx

from lashme import i18n
from lashme.app.admin import users as admin_users
from lashme.app.admin.guard import AdminRequired
from lashme.app.paging import clamp_page
from lashme.ui.admin.layout import admin_shell, admin_table
from lashme.ui.admin.state import AdminState
from lashme.ui.components.pager import pager
from lashme.ui.i18n import tr

PAGE_SIZE = 25


class AdminUsersState(AdminState):
    """The search box, one page of matching users and the pager."""

    query: str = ""
    rows: list[dict] = []
    total: int = 0
    page: int = 1
    pages: int = 1

    def _load(self, query: str, page: object) -> None:
        """Fill the page from the service; raises AdminRequired before any var changes."""
        page = max(1, clamp_page(page, 10**9))
        found, total = self._service(admin_users.search_users, query, page=page, page_size=PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        if page > pages:  # the list shrank: show the last page
            page = pages
            found, total = self._service(admin_users.search_users, query, page=page, page_size=PAGE_SIZE)
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
            for r in found
        ]
        self.query, self.page, self.total, self.pages = query, page, total, pages

    @rx.event
    def on_load(self):
        """Admins only: the first page of the current search."""
        refused = self._open_admin_page("/admin/users")
        if isinstance(refused, list):
            return refused
        try:
            self._load(self.query, 1)
        except AdminRequired:
            return self._turn_away()
        return None

    @rx.event
    def run_search(self, form_data: dict):
        """Search for ``form_data["q"]`` (part of an email), from page 1."""
        q = form_data.get("q", "") if isinstance(form_data, dict) else ""
        query = q.strip()[: admin_users.MAX_QUERY] if isinstance(q, str) else ""
        try:
            self._load(query, 1)
        except AdminRequired:
            return self._turn_away()
        return None

    @rx.event
    def go_to_page(self, page: int):
        """Show result page ``page`` (1-based; past the end shows the last page)."""
        try:
            self._load(self.query, page)
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
                    id="admin-user-search",
                    size="3",
                    width="100%",
                    max_length=admin_users.MAX_QUERY,
                    default_value=AdminUsersState.query,
                ),
                rx.icon_button(
                    rx.icon("search", size=18), type="submit", size="3", id="admin-user-search-go"
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
        pager(AdminUsersState.page, AdminUsersState.pages, AdminUsersState.go_to_page),
    )
