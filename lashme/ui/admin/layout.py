"""The admin page template: the shared header, then the admin section menu, then the page body."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import reflex as rx

from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell, session_known
from lashme.ui.state import SessionState

#: (route, message key, icon, element id) of each admin section, in menu order
SECTIONS = (
    ("/admin/users", "admin.nav.users", "users", "admin-nav-users"),
    ("/admin/jobs", "admin.nav.jobs", "list_checks", "admin-nav-jobs"),
    ("/admin/presets", "admin.nav.presets", "sliders_horizontal", "admin-nav-presets"),
    ("/admin/pricing", "admin.nav.pricing", "tag", "admin-nav-pricing"),
    ("/admin/payments", "admin.nav.payments", "credit_card", "admin-nav-payments"),
    ("/admin/stats", "admin.nav.stats", "chart_line", "admin-nav-stats"),
    ("/admin/audit", "admin.nav.audit", "scroll_text", "admin-nav-audit"),
    ("/admin/queue", "admin.nav.queue", "server", "admin-nav-queue"),
)


def admin_menu() -> rx.Component:
    """The admin section links; wraps on a phone."""
    return rx.hstack(
        *[
            rx.link(
                rx.button(rx.icon(icon, size=14), tr(key), variant="soft", size="1", color_scheme="gray"),
                href=href,
                id=link_id,
                underline="none",
            )
            for href, key, icon, link_id in SECTIONS
        ],
        wrap="wrap",
        spacing="1",
        width="100%",
        id="admin-menu",
    )


def admin_shell(title_key: str, *children: rx.Component) -> rx.Component:
    """An admin page: header, admin menu, the page heading ``tr(title_key)``, then ``children``.

    The menu and the body render only once the server has confirmed the staff role for this tab
    (a non-admin is sent away by ``on_load`` without ever seeing them); until then a skeleton.
    """
    return page_shell(
        rx.cond(
            session_known() & SessionState.is_staff,
            rx.vstack(
                admin_menu(),
                rx.heading(tr(title_key), size="6", align_self="start"),
                *children,
                width="100%",
                spacing="5",
            ),
            rx.box(class_name="lm-skel lm-skel-block", width="100%", aria_hidden="true"),
        ),
    )


def admin_table(
    headers: Sequence[str | rx.Var],
    rows: rx.Var,
    row: Callable[[rx.Var], rx.Component],
    table_id: str | None = None,
) -> rx.Component:
    """A compact table over a state list that scrolls sideways on a phone (every admin table).

    Args:
        headers: header cells: message keys (translated with ``tr``) or ready components/vars.
        rows: the state list var.
        row: renders one item of ``rows`` as an ``rx.table.row``.
        table_id: the table's element id.

    Returns:
        The table inside a full-width, horizontally scrolling box.
    """
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(tr(h) if isinstance(h, str) else h) for h in headers]
                )
            ),
            rx.table.body(rx.foreach(rows, row)),
            size="1",
            width="100%",
            id=table_id,
        ),
        width="100%",
        overflow_x="auto",
        tab_index=0,  # the box scrolls sideways on a phone: keyboard users reach it too (assets/theme.css)
        class_name="lm-table-scroll",
    )


def data_table(
    headers: Sequence[str | rx.Var], rows: rx.Var, cells: Sequence[Callable], table_id: str | None = None
) -> rx.Component:
    """:func:`admin_table` whose rows are one plain cell per column.

    Args:
        headers: as for :func:`admin_table`.
        rows: the state list var.
        cells: one function per column: row var → cell content.
        table_id: the table's element id.

    Returns:
        The table component.
    """
    return admin_table(headers, rows, lambda r: rx.table.row(*[rx.table.cell(c(r)) for c in cells]), table_id)
