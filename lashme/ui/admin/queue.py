"""``/admin/queue``: the RQ generation queue's figures and workers, with a refresh button.

The same figures rq-dashboard shows for one queue, read by
:func:`lashme.app.admin.queue.queue_figures`; when Redis does not answer the
page says so instead of failing.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from lashme import i18n
from lashme.app.admin import now
from lashme.app.admin import queue as admin_queue
from lashme.app.admin.guard import AdminRequired
from lashme.ui.admin.layout import admin_shell, data_table
from lashme.ui.admin.ops_parts import figure_card
from lashme.ui.admin.state import AdminState
from lashme.ui.i18n import tr

FIGURES = ("queued", "started", "failed", "deferred", "scheduled", "finished")


class AdminQueueState(AdminState):
    """The last read of the queue."""

    available: bool = True
    error: str = ""
    queue_name: str = ""
    figures: dict[str, int] = {k: 0 for k in FIGURES}
    workers: list[dict] = []
    checked_at: str = ""
    loading: bool = False

    def _clear(self) -> None:
        self.available, self.error, self.queue_name, self.checked_at = True, "", "", ""
        self.figures, self.workers = {k: 0 for k in FIGURES}, []

    async def _read(self):
        """Read the figures off the event loop (a Redis timeout must not stall other tabs)."""
        result = await asyncio.to_thread(self._service, admin_queue.queue_figures)
        loc = self.lang
        self.available, self.queue_name = result.available, result.queue
        self.error = (
            "" if result.available else self._tr("admin.queue.unavailable", error=result.error or "?")
        )
        self.figures = {k: getattr(result, k) for k in FIGURES}
        self.workers = [
            {
                "name": w.name,
                "state": w.state,
                "job": w.current_job_id or "—",
                "heartbeat": i18n.format_dt(w.last_heartbeat, loc, fmt="medium") if w.last_heartbeat else "—",
                "successful": w.successful,
                "failed": w.failed,
            }
            for w in result.workers
        ]
        self.checked_at = i18n.format_dt(now(), loc, fmt="medium")

    @rx.event
    async def on_load(self):
        """Admins only: read the queue."""
        self._clear()
        refused = self._open_admin_page("/admin/queue")
        if isinstance(refused, list):
            for event in refused:
                yield event
            return
        try:
            await self._read()
        except AdminRequired:
            self._clear()
            for event in self._turn_away():
                yield event

    @rx.event
    async def refresh(self):
        """Read the queue again."""
        if self._admin_id("queue.refresh") is None:
            for event in self._turn_away():
                yield event
            return
        self.loading = True
        yield
        try:
            await self._read()
        except AdminRequired:
            self._clear()
            self.loading = False
            for event in self._turn_away():
                yield event
            return
        self.loading = False


def workers_table() -> rx.Component:
    """One row per worker listening on the queue."""
    return data_table(
        [
            tr(k)
            for k in (
                "admin.queue.col_worker",
                "admin.queue.col_state",
                "admin.queue.col_job",
                "admin.queue.col_heartbeat",
                "admin.queue.col_successful",
                "admin.queue.col_failed",
            )
        ],
        AdminQueueState.workers,
        [
            lambda w: rx.code(w["name"].to(str), size="1"),
            lambda w: rx.badge(
                w["state"].to(str),
                color_scheme=rx.match(w["state"].to(str), ("busy", "amber"), ("idle", "green"), "gray"),
            ),
            lambda w: rx.code(w["job"].to(str), size="1"),
            lambda w: w["heartbeat"].to(str),
            lambda w: w["successful"].to(str),
            lambda w: w["failed"].to(str),
        ],
        "admin-queue-workers",
    )


ON_LOAD = AdminQueueState.on_load


def page() -> rx.Component:
    """The figures, the workers, and a refresh button."""
    return admin_shell(
        "admin.nav.queue",
        rx.flex(
            rx.button(
                rx.cond(AdminQueueState.loading, rx.spinner(size="1"), rx.icon("refresh_cw", size=14)),
                tr("admin.queue.refresh"),
                on_click=AdminQueueState.refresh,
                disabled=AdminQueueState.loading,
                id="admin-queue-refresh",
            ),
            rx.text(
                tr("admin.queue.queue_name"),
                " ",
                rx.code(AdminQueueState.queue_name),
                " · ",
                tr("admin.queue.checked_at"),
                " ",
                AdminQueueState.checked_at,
                size="2",
                color_scheme="gray",
            ),
            wrap="wrap",
            gap="3",
            align="center",
            width="100%",
        ),
        rx.cond(
            AdminQueueState.available,
            rx.fragment(
                rx.grid(
                    *[
                        figure_card(tr(f"admin.queue.{k}"), AdminQueueState.figures[k], f"admin-queue-{k}")
                        for k in FIGURES
                    ],
                    columns=rx.breakpoints(initial="2", sm="3", md="6"),
                    spacing="3",
                    width="100%",
                ),
                rx.heading(tr("admin.queue.workers"), size="4", align_self="start"),
                rx.cond(
                    AdminQueueState.workers.length() > 0,
                    workers_table(),
                    rx.text(tr("admin.queue.no_workers"), color_scheme="gray", id="admin-queue-no-workers"),
                ),
            ),
            rx.callout(
                AdminQueueState.error,
                icon="triangle_alert",
                color_scheme="red",
                width="100%",
                id="admin-queue-unavailable",
            ),
        ),
    )
