"""The admin page template: the shared header, then the admin section menu, then the page body."""

from __future__ import annotations

import reflex as rx

from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell

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
    """An admin page: header, admin menu, the page heading ``tr(title_key)``, then ``children``."""
    return page_shell(
        admin_menu(),
        rx.heading(tr(title_key), size="6", align_self="start"),
        *children,
    )
