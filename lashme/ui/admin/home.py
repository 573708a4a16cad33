"""``/admin``: live figures and links to every admin section.

Figures: users, today's jobs and failures (UTC), jobs queued now, revenue of the last 7 days.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from lashme import i18n
from lashme.app.admin import stats as admin_stats
from lashme.app.admin.guard import AdminRequired
from lashme.ui.admin.layout import SECTIONS, admin_shell
from lashme.ui.admin.ops_parts import figure_card
from lashme.ui.admin.state import AdminState
from lashme.ui.i18n import tr

#: (figure key, message key, link, element id) of the overview cards
CARDS = (
    ("users", "admin.home.users", "/admin/users", "admin-home-users"),
    ("jobs_today", "admin.home.jobs_today", "/admin/jobs", "admin-home-jobs-today"),
    ("failed_today", "admin.home.failed_today", "/admin/jobs", "admin-home-failed-today"),
    ("queued", "admin.home.queued", "/admin/queue", "admin-home-queued"),
    ("revenue_7d", "admin.home.revenue_7d", "/admin/stats", "admin-home-revenue"),
)


class AdminHomeState(AdminState):
    """The overview figures, as display text."""

    figures: dict[str, str] = {k: "" for k, *_ in CARDS}

    @rx.event
    async def on_load(self):
        """Admins only: read the overview (the queue count off the event loop)."""
        self.figures = {k: "" for k, *_ in CARDS}
        refused = self._open_admin_page("/admin")
        if isinstance(refused, list):
            for event in refused:
                yield event
            return
        try:
            o = await asyncio.to_thread(self._service, admin_stats.overview)
        except AdminRequired:
            for event in self._turn_away():
                yield event
            return
        money = i18n.money_locale(self.lang)
        revenue = " · ".join(i18n.format_money(v, c, money) for c, v in o.revenue_7d.items())
        self.figures = {
            "users": str(o.users),
            "jobs_today": str(o.jobs_today),
            "failed_today": str(o.failed_today),
            "queued": "—" if o.queued is None else str(o.queued),
            "revenue_7d": revenue or i18n.format_money(0, "usd", money),
        }


ON_LOAD = AdminHomeState.on_load


def section_card(href: str, key: str, icon: str, link_id: str) -> rx.Component:
    """A big link to one admin section."""
    return rx.link(
        rx.card(
            rx.hstack(rx.icon(icon, size=20), rx.text(tr(key), weight="bold"), align="center", spacing="2"),
            width="100%",
        ),
        href=href,
        underline="none",
        id=f"admin-home-link-{link_id.removeprefix('admin-nav-')}",
        width="100%",
    )


def page() -> rx.Component:
    """Figures first, then every section."""
    return admin_shell(
        "admin.home.title",
        rx.grid(
            *[
                figure_card(tr(key), AdminHomeState.figures[k], card_id, href)
                for k, key, href, card_id in CARDS
            ],
            columns=rx.breakpoints(initial="2", sm="3", md="5"),
            spacing="3",
            width="100%",
        ),
        rx.heading(tr("admin.home.sections"), size="4", align_self="start"),
        rx.grid(
            *[section_card(*s) for s in SECTIONS],
            columns=rx.breakpoints(initial="1", sm="2", md="4"),
            spacing="3",
            width="100%",
        ),
    )
