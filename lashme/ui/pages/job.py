"""``/job/[job_id]``: live status pushed from the server, then the 2×2 results grid.

A background task per open page subscribes to the job's Redis channel and
re-reads the job from the database on every message (a slow timer is the
safety net), so the browser never polls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import reflex as rx

from lashme.app import job as app_job
from lashme.app import session as app_session
from lashme.app import variant as app_variant
from lashme.app.caller import Caller
from lashme.errors import AuthError, DomainError, InsufficientCredits
from lashme.i18n import translate
from lashme.ui.components.spinner import spinner
from lashme.ui.components.unlock import (
    UnlockMixin,
    preparing_badge,
    unlock_dialog,
    unlock_then,
    unlocked_toast,
)
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell
from lashme.ui.state import SessionState

log = logging.getLogger(__name__)
SAFETY_REFRESH_S = 15.0


class JobState(UnlockMixin, SessionState):
    """The job shown on the page.  Holds only the caller's own job (the unlock dialog: UnlockMixin)."""

    shown_job_id: str = ""
    status: str = ""
    position: int = 0
    error: str = ""
    variants: list[dict] = []
    not_found: bool = False
    #: the owner may run it again (failed or canceled), and whether that is free (failed on our side)
    can_retry: bool = False
    retry_free: bool = False
    retrying: bool = False
    _watch_token: int = 0

    def _route_job_id(self) -> str:
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1][:32] if len(parts) >= 2 and parts[0] == "job" else ""

    @rx.var
    def all_altered(self) -> bool:
        """Every variant with a picture was held back by the fidelity guard (none to offer)."""
        shown = [v for v in self.variants if not v.get("filtered")]
        return bool(shown) and all(v.get("altered") for v in shown)

    def _load(self, job_id: str, caller: Caller | None = None) -> app_job.JobView | None:
        view, refused = self._call(app_job.get, job_id, caller=caller)
        return None if refused is not None else view

    def _apply(self, view: app_job.JobView | None) -> None:
        if view is None:
            self.not_found, self.status, self.variants = True, "", []
            return
        self.not_found = False
        self.can_retry, self.retry_free = view.can_retry, view.retry_free
        self.status, self.position, self.error, self.variants = (
            view.status,
            view.position,
            self._tr(view.error_key) if view.error_key else "",
            [
                {
                    **{k: val for k, val in dataclasses.asdict(v).items() if k != "thumb_url"},
                    "label": translate(v.label_key, self.lang),
                    "rendering": v.fullres in app_job.RENDERING_STATES,
                }
                for v in view.variants
            ],
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
        self.confirm_vid = self.unlocking = ""

    @rx.event
    def on_load(self):
        """Show the job in the URL if the caller owns it, then watch it until it is final."""
        self._ensure_anon()
        caller = self._refresh_user()
        self.confirm_vid = self.unlocking = ""
        self.shown_job_id = self._route_job_id()
        view = self._load(self.shown_job_id, caller)
        self._apply(view)
        self._watch_token += 1
        if view is not None and not view.settled:
            return JobState.watch

    @rx.event(background=True)
    async def watch(self):
        """Push changes to the page until the job is final and no full-size file is being prepared."""
        async with self:
            token, job_id = self._watch_token, self.shown_job_id
            creds = self._credentials()
        if not job_id:
            return
        caller = await asyncio.to_thread(lambda: app_session.caller_for(**creds))
        try:
            async with app_job.watch(caller, job_id) as changes:
                while True:
                    # one state lock per change (read the job first, then check and apply): the
                    # push of a finished job is on the upload -> previews path (issue 18)
                    view = await asyncio.to_thread(app_job.get, caller, job_id)
                    async with self:
                        if token != self._watch_token or job_id != self.shown_job_id:
                            return  # the page moved on; a newer watcher (if any) owns it
                        self._apply(view)
                    if view.settled:
                        return
                    await changes.wait(SAFETY_REFRESH_S)
        except DomainError:
            async with self:
                if token == self._watch_token:
                    self._apply(None)

    @rx.event
    def ask_unlock(self, variant_id: str):
        """Open the confirmation: the price and the balance after, or the packs when it is short."""
        caller = self._caller()
        if not caller.signed_in:
            return rx.redirect(f"/signup?next=/job/{self.shown_job_id}")
        if self.unlocking:
            return None
        quote, refused = self._open_confirmation(variant_id, caller)
        if refused is not None:
            return refused
        if quote.unlocked:  # paid before (e.g. a failed render to try again): nothing to confirm
            return JobState.unlock(quote.variant_id)
        return None

    @rx.event
    async def confirm_unlock(self):
        """Spend the confirmed unlock once (a second tap finds the dialog closed and does nothing).

        The unlock and the re-read of the job run in one worker-thread hop, and the card's clean
        image (stored at generation) is in the same state update as the new balance.
        """
        vid = self._take_confirmed()
        if not vid:
            return
        self.unlocking = vid
        yield  # the buttons show the unlock in flight
        try:
            result, view = await self._run(unlock_then, vid, app_job.get, self.shown_job_id)
        except AuthError:  # signed out meanwhile
            self.unlocking = ""
            yield rx.redirect(f"/signup?next=/job/{self.shown_job_id}")
            return
        except InsufficientCredits:  # the balance changed meanwhile: offer the packs
            self.unlocking = ""
            yield JobState.ask_unlock(vid)
            return
        except DomainError as exc:
            self.unlocking = ""
            yield rx.toast.error(self._err(exc))
            return
        self.unlocking = ""
        yield self._after_unlock(result, view)

    @rx.event
    def unlock(self, variant_id: str):
        """Unlock a variant without the dialog (free when already unlocked: retries a failed render)."""
        caller = self._caller()
        if not caller.signed_in:
            return rx.redirect(f"/signup?next=/job/{self.shown_job_id}")
        done, refused = self._call(
            unlock_then, str(variant_id)[:32], app_job.get, self.shown_job_id, caller=caller
        )
        if refused is not None:
            return refused
        return self._after_unlock(*done)

    def _after_unlock(self, result: app_variant.Unlocked, view: app_job.JobView | None) -> list:
        """Show the new balance and the card's new state; watch until the clean full size is ready."""
        self.balance, self.held = result.available, result.held  # read in the unlock's transaction
        self._apply(view)
        events: list = [rx.toast.success(unlocked_toast(result, self.lang))]
        if view is not None and not view.settled:
            self._watch_token += 1  # the full size is being made: show its downloads when it is ready
            events.append(JobState.watch)
        return events

    @rx.event
    async def cancel(self):
        """Cancel the caller's running job (ownership checked in the use-case; provider calls off the loop)."""
        view, refused = await self._call_async(app_job.cancel, self.shown_job_id)
        if refused is not None:
            return refused
        self._apply(view)
        return rx.toast.info(self._tr("job.canceled_toast"))

    @rx.event
    async def retry(self):
        """Run the failed job again (free when it failed on our side) or start a canceled one again.

        A canceled job starts again as a new job: the page moves to it.
        """
        if not self._caller().signed_in:
            yield rx.redirect(f"/login?next=/job/{self.shown_job_id}")
            return
        job_id = self.shown_job_id
        self.retrying = True
        yield
        new_id, refused = await self._call_async(app_job.retry, job_id)
        self.retrying = False
        if refused is not None:
            yield refused
            return
        self._refresh_user()
        if new_id != job_id:
            yield rx.toast.success(self._tr("dash.restarted"))
            yield rx.redirect(f"/job/{new_id}")
            return
        self._apply(self._load(job_id))
        self._watch_token += 1
        yield rx.toast.success(self._tr("dash.retried"))
        yield JobState.watch

    @rx.event
    def download(self, variant_id: str, kind: str = "full"):
        """Start a download of an unlocked variant through a short-lived signed URL."""
        caller = self._caller()
        if not caller.signed_in:
            return rx.redirect(f"/login?next=/job/{self.shown_job_id}")
        url, refused = self._call(
            app_variant.download_link,
            str(variant_id)[:32],
            "insta" if kind == "insta" else "full",
            caller=caller,
        )
        return refused if refused is not None else rx.download(url=url)


def status_panel() -> rx.Component:
    """Queue position / processing / failed messages."""
    return rx.match(
        JobState.status,
        (
            "PENDING",
            rx.hstack(
                spinner(),
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
            rx.hstack(spinner(), rx.text(tr("job.processing"), id="job-status"), align="center"),
        ),
        ("FAILED", rx.callout(JobState.error, icon="triangle_alert", color_scheme="red", id="job-status")),
        ("CANCELED", rx.callout(tr("job.canceled"), icon="info", id="job-status")),
        rx.fragment(),
    )


def variant_card(v: rx.Var[dict]) -> rx.Component:
    """One result: preview, then unlock, "preparing" while the full-size file is made, or downloads."""
    return rx.card(
        rx.cond(
            v["filtered"].to(bool),
            rx.center(rx.text(tr("job.filtered"), color_scheme="gray"), height="200px"),
            rx.box(
                rx.image(
                    src=v["preview_url"].to(str),
                    width="100%",
                    border_radius="8px",
                    class_name=rx.cond(v["clean"].to(bool), "variant-preview is-clean", "variant-preview"),
                    alt=v["label"].to(str),
                ),
                rx.cond(v["rendering"].to(bool), preparing_badge()),
                position="relative",
                width="100%",
            ),
        ),
        rx.vstack(
            rx.text(v["label"].to(str), weight="bold", size="2"),
            rx.cond(
                v["unlocked"].to(bool),
                rx.match(
                    v["fullres"].to(str),
                    (
                        "ready",
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
                    ),
                    (
                        "failed",
                        rx.button(
                            rx.icon("rotate_ccw", size=14),
                            tr("app.fullres_failed"),
                            size="2",
                            width="100%",
                            color_scheme="red",
                            variant="soft",
                            on_click=JobState.unlock(v["id"].to(str)),
                            class_name="fullres-retry",
                        ),
                    ),
                    rx.button(
                        rx.spinner(size="1"),
                        tr("paid.preparing"),
                        size="2",
                        width="100%",
                        variant="soft",
                        disabled=True,
                        class_name="fullres-preparing",
                    ),
                ),
                rx.cond(
                    v["altered"].to(bool),
                    rx.text(
                        tr("fidelity.altered_note"), size="1", color_scheme="gray", class_name="altered-note"
                    ),
                    rx.button(
                        rx.icon("lock_open", size=14),
                        rx.text(JobState.unlock_button, trim="both"),
                        size="2",
                        width="100%",
                        height="auto",
                        min_height="44px",
                        white_space="normal",
                        on_click=JobState.ask_unlock(v["id"].to(str)),
                        class_name="unlock-button",
                        disabled=v["filtered"].to(bool) | (JobState.unlocking != ""),
                        loading=JobState.unlocking == v["id"].to(str),
                    ),
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
                    JobState.can_retry,
                    rx.vstack(
                        rx.cond(
                            JobState.retry_free,
                            rx.text(tr("dash.retry_free_hint"), size="2", color_scheme="gray"),
                        ),
                        rx.button(
                            rx.icon("rotate_ccw", size=16),
                            rx.cond(
                                JobState.status == "CANCELED",
                                tr("dash.restart"),
                                rx.cond(JobState.retry_free, tr("dash.retry_free"), tr("dash.retry")),
                            ),
                            size="3",
                            on_click=JobState.retry,
                            loading=JobState.retrying,
                            id="retry-job",
                        ),
                        align="center",
                        spacing="2",
                    ),
                ),
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
                    (JobState.status == "DONE") & JobState.all_altered,
                    rx.callout(tr("fidelity.all_altered"), icon="info", width="100%", id="all-altered"),
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
                rx.link(tr("job.upload_another"), href="/", size="2", color="var(--pink-11)"),
                unlock_dialog(JobState),
                width="100%",
                align="center",
                spacing="4",
            ),
        )
    )
