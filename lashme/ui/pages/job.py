"""``/job/[job_id]``: live status pushed from the server, then the 2×2 results grid.

A background task per open page subscribes to the job's Redis channel and
re-reads the job from the database on every message (a slow timer is the
safety net), so the browser never polls.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
import reflex as rx

from lashme.app import job_views
from lashme.credits import pricing, unlocks
from lashme.errors import DomainError
from lashme.i18n import translate
from lashme.jobs import cancel, queue
from lashme.ops.db import session_scope
from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell
from lashme.ui.state import SessionState

log = logging.getLogger(__name__)
SAFETY_REFRESH_S = 15.0


class JobState(SessionState):
    """The job shown on the page.  Holds only the caller's own job."""

    shown_job_id: str = ""
    status: str = ""
    position: int = 0
    error: str = ""
    variants: list[dict] = []
    not_found: bool = False
    _watch_token: int = 0

    def _route_job_id(self) -> str:
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1][:32] if len(parts) >= 2 and parts[0] == "job" else ""

    def _load(self, job_id: str, user_id: int | None) -> job_views.JobView | None:
        try:
            return job_views.load_job_view(job_id, user_id=user_id, anon_token=self.anon_token or None)
        except DomainError:
            return None

    def _apply(self, view: job_views.JobView | None) -> None:
        if view is None:
            self.not_found, self.status, self.variants = True, "", []
            return
        self.not_found = False
        self.status, self.position, self.error, self.variants = (
            view.status,
            view.position,
            self._tr(view.error_key) if view.error_key else "",
            [{**v, "label": translate(v["label_key"], self.lang)} for v in view.variants],
        )

    def show_pending(self, job_id: str) -> None:
        """Reset the page to a just-queued job (called by the upload handler before redirecting)."""
        self.shown_job_id, self.status, self.position, self.error, self.variants = (
            job_id,
            "PENDING",
            0,
            "",
            [],
        )
        self.not_found = False

    @rx.event
    def on_load(self):
        """Show the job in the URL if the caller owns it, then watch it until it is final."""
        self._ensure_anon()
        user_id = self._refresh_user()
        self.shown_job_id = self._route_job_id()
        view = self._load(self.shown_job_id, user_id)
        self._apply(view)
        self._watch_token += 1
        if view is not None and not view.final:
            return JobState.watch

    @rx.event(background=True)
    async def watch(self):
        """Push status changes to the page until the job is DONE, FAILED or CANCELED."""
        async with self:
            token, job_id = self._watch_token, self.shown_job_id
            user_id = self._user_id()
        if not job_id:
            return
        client = aioredis.from_url(queue.redis_url())
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(queue.job_channel(job_id), queue.QUEUE_CHANNEL)
            while True:
                async with self:
                    if token != self._watch_token or job_id != self.shown_job_id:
                        return  # the page moved on; a newer watcher (if any) owns it
                    anon = self.anon_token or None
                view = await asyncio.to_thread(
                    job_views.load_job_view, job_id, user_id=user_id, anon_token=anon
                )
                async with self:
                    if token != self._watch_token:
                        return
                    self._apply(view)
                if view.final:
                    return
                await _wait_message(pubsub, SAFETY_REFRESH_S)
        except DomainError:
            async with self:
                self._apply(None)
        finally:
            await pubsub.aclose()
            await client.aclose()

    @rx.event
    def unlock(self, variant_id: str):
        """Spend 1 credit to unlock a variant's full resolution (free if already unlocked)."""
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect(f"/signup?next=/job/{self.shown_job_id}")
        try:
            with session_scope() as s:
                result = unlocks.unlock_variant(
                    s,
                    user_id=user_id,
                    variant_id=str(variant_id)[:32],
                    cost=pricing.get_prices(s).unlock_cost,
                )
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self._refresh_user()
        self._apply(self._load(self.shown_job_id, user_id))
        return rx.toast.success(self._tr("job.unlocked_toast" if result.charged else "job.already_unlocked"))

    @rx.event
    async def cancel(self):
        """Cancel the caller's running job (ownership checked in the core; fal cancel off the event loop)."""
        user_id = self._user_id()
        try:
            await asyncio.to_thread(
                cancel.cancel_job, self.shown_job_id, user_id=user_id, anon_token=self.anon_token or None
            )
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self._apply(self._load(self.shown_job_id, user_id))
        return rx.toast.info(self._tr("job.canceled_toast"))

    @rx.event
    def download(self, variant_id: str, kind: str = "full"):
        """Start a download of an unlocked variant through a short-lived signed URL."""
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect(f"/login?next=/job/{self.shown_job_id}")
        try:
            url = job_views.download_url(
                str(variant_id)[:32], user_id=user_id, kind="insta" if kind == "insta" else "full"
            )
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        return rx.download(url=url)


async def _wait_message(pubsub, timeout: float) -> None:
    """Wait until any message arrives on ``pubsub`` or ``timeout`` seconds pass."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
        if msg is not None:
            return


def status_panel() -> rx.Component:
    """Queue position / processing / failed messages."""
    return rx.match(
        JobState.status,
        (
            "PENDING",
            rx.hstack(
                rx.spinner(),
                rx.cond(
                    JobState.position > 0,
                    rx.text(tr("job.position"), JobState.position, id="job-status"),
                    rx.text(tr("job.in_queue"), id="job-status"),
                ),
                align="center",
            ),
        ),
        (
            "PROCESSING",
            rx.hstack(rx.spinner(), rx.text(tr("job.processing"), id="job-status"), align="center"),
        ),
        ("FAILED", rx.callout(JobState.error, icon="triangle_alert", color_scheme="red", id="job-status")),
        ("CANCELED", rx.callout(tr("job.canceled"), icon="info", id="job-status")),
        rx.fragment(),
    )


def variant_card(v: rx.Var[dict]) -> rx.Component:
    """One result: watermarked preview, then unlock or download."""
    return rx.card(
        rx.cond(
            v["filtered"].to(bool),
            rx.center(rx.text(tr("job.filtered"), color_scheme="gray"), height="200px"),
            rx.image(
                src=v["preview_url"].to(str),
                width="100%",
                border_radius="8px",
                class_name="variant-preview",
                alt=v["label"].to(str),
            ),
        ),
        rx.vstack(
            rx.text(v["label"].to(str), weight="bold", size="2"),
            rx.cond(
                v["unlocked"].to(bool),
                rx.hstack(
                    rx.button(
                        rx.icon("download", size=14),
                        tr("job.full_size"),
                        size="2",
                        flex="1",
                        on_click=JobState.download(v["id"].to(str), "full"),
                        class_name="download-full",
                    ),
                    rx.button(
                        "4:5",
                        size="2",
                        variant="soft",
                        on_click=JobState.download(v["id"].to(str), "insta"),
                        class_name="download-insta",
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.button(
                    rx.icon("lock_open", size=14),
                    SessionState.unlock_label,
                    size="2",
                    width="100%",
                    on_click=JobState.unlock(v["id"].to(str)),
                    class_name="unlock-button",
                    disabled=v["filtered"].to(bool),
                ),
            ),
            spacing="2",
            width="100%",
            padding_top="0.5em",
        ),
        class_name="variant-card",
    )


def job_page() -> rx.Component:
    """The job page body."""
    return page_shell(
        rx.cond(
            JobState.not_found,
            rx.vstack(
                rx.heading(tr("job.not_found_title"), size="5"),
                rx.text(tr("job.not_found")),
                rx.link(tr("gallery.empty_link"), href="/"),
                align="center",
            ),
            rx.vstack(
                rx.heading(tr("job.title"), size="6"),
                status_panel(),
                rx.cond(
                    (JobState.status == "PENDING") | (JobState.status == "PROCESSING"),
                    rx.button(
                        tr("job.cancel"),
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=JobState.cancel,
                        id="cancel-job",
                    ),
                ),
                rx.cond(
                    (JobState.status == "PENDING") | (JobState.status == "PROCESSING"),
                    rx.grid(
                        *[
                            rx.skeleton(rx.box(height="220px"), loading=True, class_name="variant-skeleton")
                            for _ in range(4)
                        ],
                        columns="2",
                        spacing="3",
                        width="100%",
                    ),
                    rx.grid(
                        rx.foreach(JobState.variants, variant_card),
                        columns="2",
                        spacing="3",
                        width="100%",
                        id="results-grid",
                    ),
                ),
                rx.cond(
                    (JobState.status == "DONE") & ~JobState.signed_in,
                    rx.callout(
                        rx.hstack(
                            rx.text(SessionState.signup_pitch),
                            rx.link(
                                rx.button(tr("job.signup_free"), size="2", color_scheme="pink"),
                                href="/signup?next=/job/" + JobState.shown_job_id,
                                id="cta-signup",
                            ),
                            align="center",
                            wrap="wrap",
                        ),
                        icon="sparkles",
                        width="100%",
                    ),
                ),
                rx.link(tr("job.upload_another"), href="/", size="2", color=ROSE),
                width="100%",
                align="center",
                spacing="4",
            ),
        )
    )
