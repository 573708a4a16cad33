"""``/dashboard``: balance (available and held), buy credits, recent jobs (cancel / retry), the credit ledger."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import reflex as rx

from lashme import i18n
from lashme.app import dashboard
from lashme.app import job as app_job
from lashme.app.caller import Caller
from lashme.errors import DomainError
from lashme.ui.components.ledger import LedgerMixin, ledger_pager, ledger_table
from lashme.ui.components.pager import FIRST, SAME
from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell
from lashme.ui.state import SessionState

LEDGER_PAGE_SIZE = 10
#: seconds between re-reads while a clean full-size file is being made, and how long to keep trying
RENDER_POLL_S = 1.0
RENDER_POLL_MAX_S = 180.0


def _thumb_dict(t: dashboard.Thumb) -> dict:
    return {
        "id": t.variant_id,
        "url": t.url,
        "clean": t.clean,
        "unlocked": t.unlocked,
        "rendering": t.fullres in app_job.RENDERING_STATES,
    }


class DashboardState(LedgerMixin, SessionState):
    """The caller's recent jobs and one ledger page."""

    LEDGER_LOGIN: ClassVar[str] = "/login?next=/dashboard"
    recent: list[dict] = []
    busy_job: str = ""
    _poll_token: int = 0

    def _load(self, caller: Caller, move: str = SAME) -> None:
        data, refused = self._call(
            dashboard.load,
            ledger_token=self._ledger_token(move),
            page_size=LEDGER_PAGE_SIZE,
            caller=caller,
        )
        if refused is not None:
            return
        self._show(data, move)

    def _show(self, data: dashboard.Dashboard, move: str = SAME) -> None:
        loc = self.lang
        self.recent = [
            {
                "id": j.id,
                "date": i18n.format_dt(j.created_at, loc, fmt="short"),
                "status": j.status,
                "status_label": i18n.translate(f"status.{j.status}", loc),
                "stage": (
                    i18n.ngettext(j.stage_key, j.stage_n, loc)
                    if j.stage_key.startswith("plural.")
                    else i18n.translate(j.stage_key, loc, n=j.stage_n)
                ),
                "can_cancel": j.can_cancel,
                "can_retry": j.can_retry,
                "retry_free": j.retry_free,
                "thumbs": [_thumb_dict(t) for t in j.thumbs],
            }
            for j in data.recent
        ]
        self._show_ledger(data.ledger, move, loc)

    @rx.event
    def on_load(self):
        """Signed-in only."""
        self._ensure_anon()
        self.busy_job, self._ledger_cursor = "", {}
        caller = self._refresh_user()
        if not caller.signed_in:
            return rx.redirect("/login?next=/dashboard")
        self._load(caller, FIRST)
        if any(t["rendering"] for j in self.recent for t in j["thumbs"]):
            self._poll_token += 1
            return DashboardState.watch_renders
        return None

    @rx.event(background=True)
    async def watch_renders(self):
        """Swap the watermarked thumbnails for the clean ones as soon as their full size is rendered."""
        async with self:
            token, ledger_token = self._poll_token, self._ledger_token(SAME)
        deadline = time.monotonic() + RENDER_POLL_MAX_S
        while time.monotonic() < deadline:
            await asyncio.sleep(RENDER_POLL_S)
            try:
                data = await self._run(dashboard.load, ledger_token=ledger_token, page_size=LEDGER_PAGE_SIZE)
            except DomainError:
                return
            async with self:
                if token != self._poll_token:
                    return
                self._show(data)
            if not data.rendering:
                return

    async def _act(self, fn, job_id: str, ok_key: str):
        caller = self._caller()
        if not caller.signed_in:
            yield rx.redirect("/login?next=/dashboard")
            return
        job_id = str(job_id)[:32]
        self.busy_job = job_id
        yield
        result, refused = await self._call_async(fn, job_id)
        self.busy_job = ""
        if refused is not None:
            yield refused
            return
        self._refresh_user()
        self._load(caller)
        # a canceled job starts again as a new job (its id comes back): say so
        restarted = fn is app_job.retry and result != job_id
        yield rx.toast.success(self._tr("dash.restarted" if restarted else ok_key))

    @rx.event
    async def cancel(self, job_id: str):
        """Cancel a queued job (its reserved credits are released)."""
        async for update in self._act(app_job.cancel, job_id, "dash.canceled"):
            yield update

    @rx.event
    async def retry(self, job_id: str):
        """Run a failed job again (free when it failed on our side) or start a canceled one again."""
        async for update in self._act(app_job.retry, job_id, "dash.retried"):
            yield update


def _thumb(t) -> rx.Component:
    """One variant's thumbnail (clean once unlocked and rendered), linking to its page."""
    return rx.link(
        rx.box(
            rx.image(
                src=t["url"].to(str),
                width="64px",
                height="64px",
                object_fit="cover",
                border_radius="6px",
                loading="lazy",
                class_name=rx.cond(t["clean"].to(bool), "dash-thumb is-clean", "dash-thumb"),
                alt="",
            ),
            rx.cond(
                t["rendering"].to(bool),
                rx.center(
                    rx.spinner(size="1"),
                    position="absolute",
                    inset="0",
                    background="rgba(0,0,0,.25)",
                    border_radius="6px",
                    class_name="fullres-progress",
                    title=tr("paid.preparing"),
                ),
                rx.cond(
                    t["unlocked"].to(bool),
                    rx.icon(
                        "lock_open",
                        size=12,
                        position="absolute",
                        bottom="3px",
                        left="3px",
                        color="white",
                        aria_label=tr("paid.unlocked_badge"),
                    ),
                ),
            ),
            position="relative",
        ),
        href="/variant/" + t["id"].to(str),
        aria_label=tr("a11y.open_variant"),  # the picture has no words (alt=""): the link needs a name
    )


def job_row(j) -> rx.Component:
    """One recent job: date, status, what is happening, actions."""
    jid = j["id"].to(str)
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.hstack(
                    rx.badge(
                        j["status_label"].to(str),
                        color_scheme=rx.match(
                            j["status"].to(str),
                            ("DONE", "green"),
                            ("FAILED", "red"),
                            ("CANCELED", "gray"),
                            "amber",
                        ),
                    ),
                    rx.text(j["date"].to(str), size="1", color_scheme="gray"),
                    align="center",
                ),
                rx.text(j["stage"].to(str), size="2", class_name="job-stage"),
                rx.cond(
                    j["retry_free"].to(bool),
                    rx.text(
                        tr("dash.retry_free_hint"),
                        size="1",
                        color_scheme="gray",
                        class_name="retry-free-hint",
                    ),
                ),
                rx.cond(
                    j["thumbs"].to(list[dict]).length() > 0,
                    rx.hstack(
                        rx.foreach(j["thumbs"].to(list[dict]), _thumb),
                        spacing="1",
                        wrap="wrap",
                        class_name="dash-thumbs",
                    ),
                ),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            rx.hstack(
                rx.cond(
                    j["can_cancel"].to(bool),
                    rx.button(
                        tr("dash.cancel"),
                        on_click=DashboardState.cancel(jid),
                        variant="soft",
                        color_scheme="gray",
                        class_name="job-cancel",
                        loading=DashboardState.busy_job == jid,
                    ),
                ),
                rx.cond(
                    j["can_retry"].to(bool),
                    rx.button(
                        rx.cond(
                            j["status"].to(str) == "CANCELED",
                            tr("dash.restart"),
                            rx.cond(j["retry_free"].to(bool), tr("dash.retry_free"), tr("dash.retry")),
                        ),
                        on_click=DashboardState.retry(jid),
                        class_name="job-retry",
                        loading=DashboardState.busy_job == jid,
                    ),
                ),
                rx.link(rx.button(tr("dash.open"), variant="outline"), href="/job/" + jid),
                spacing="2",
            ),
            gap="2",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        width="100%",
        class_name="dash-job",
    )


def dashboard_page() -> rx.Component:
    """The dashboard page body."""
    return page_shell(
        rx.heading(tr("dash.title"), size="7", align_self="start"),
        rx.flex(
            rx.card(
                rx.vstack(
                    rx.text(tr("dash.available"), size="2", color_scheme="gray"),
                    rx.heading(DashboardState.balance, size="7", color=ROSE, id="dash-available"),
                    spacing="1",
                ),
                flex="1",
                min_width="140px",
            ),
            rx.card(
                rx.vstack(
                    rx.text(tr("dash.held"), size="2", color_scheme="gray"),
                    rx.heading(DashboardState.held, size="7", id="dash-held"),
                    rx.text(tr("dash.held_help"), size="1", color_scheme="gray", id="dash-held-help"),
                    spacing="1",
                ),
                flex="1",
                min_width="140px",
            ),
            rx.link(
                rx.button(rx.icon("gem", size=16), tr("dash.buy"), size="3", width="100%"),
                href="/credits",
                id="dash-buy",
                flex="1",
                min_width="140px",
                align_self="center",
            ),
            gap="3",
            wrap="wrap",
            width="100%",
            align="stretch",  # the two balance cards side by side share one height
        ),
        rx.heading(tr("dash.recent"), size="5", align_self="start"),
        rx.cond(
            DashboardState.recent.length() > 0,
            rx.vstack(
                rx.foreach(DashboardState.recent, job_row), width="100%", spacing="2", id="recent-jobs"
            ),
            rx.text(tr("dash.no_jobs"), color_scheme="gray", align_self="start"),
        ),
        rx.heading(tr("dash.ledger"), size="5", align_self="start"),
        ledger_table(DashboardState, "dash-ledger", role="region", aria_label=tr("dash.ledger")),
        ledger_pager(DashboardState),
    )
