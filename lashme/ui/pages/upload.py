"""``/``: drop or pick one photo; the server validates it, stores it and queues the job."""

from __future__ import annotations

import reflex as rx

from lashme.app import upload as app_upload
from lashme.errors import DomainError
from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell
from lashme.ui.pages.job import JobState
from lashme.ui.state import SessionState

UPLOAD_ID = "photo"


class UploadState(SessionState):
    """Upload progress and the rejection message."""

    error: str = ""
    uploading: bool = False

    @rx.event
    def reset_form(self):
        """on_load: clear a previous rejection."""
        self.error = ""
        self.uploading = False

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        """Validate on the server (size, decoding, format, pixels), then go to the job page."""
        if len(files) != 1:
            self.error = self._tr("home.one_photo")
            return
        self.uploading = True
        self.error = ""
        yield
        limit = app_upload.max_bytes()
        data = await files[0].read(limit + 1)  # never read more than the cap + 1 byte
        self._ensure_anon()
        try:
            job = await self._run(app_upload.submit_photo, data)
        except DomainError as exc:
            self.error = self._err(exc)
            self.uploading = False
            return
        self.uploading = False
        job_state = await self.get_state(JobState)
        job_state.show_pending(job.job_id)  # no flash of the previous job while the page loads
        yield rx.redirect(f"/job/{job.job_id}")
        if job.queued_later:  # Redis down: the sweeper queues it once Redis is back
            yield rx.toast.info(self._tr("security.upload_queued_soon"))


def _name_file_input(component: rx.Component, labelled_by: str) -> None:
    """Give the file input that ``rx.upload.root`` makes inside ``component`` an accessible name.

    Reflex creates that ``<input type="file">`` itself and passes it no props; without a name a
    screen reader announces a bare "file" control (axe rule ``label``, critical).  ``labelled_by``:
    space-separated ids of the elements whose text names it (``aria-labelledby``).
    """
    for child in component.children:
        if getattr(child, "tag", None) == "input":
            child.custom_attrs["aria-labelledby"] = labelled_by
            return
        _name_file_input(child, labelled_by)


def upload_zone() -> rx.Component:
    """The drop zone; dropping or picking a file uploads it at once."""
    zone = rx.upload.root(
        rx.vstack(
            rx.icon("image_plus", size=40, color=ROSE, aria_hidden="true"),
            rx.text(tr("home.drop"), weight="bold", size="4", id="upload-drop-title"),
            rx.text(tr("home.hint"), size="2", color_scheme="gray", id="upload-drop-hint"),
            rx.cond(
                UploadState.uploading, rx.hstack(rx.spinner(), rx.text(tr("home.uploading")), align="center")
            ),
            align="center",
            spacing="2",
        ),
        id=UPLOAD_ID,
        multiple=False,
        max_files=1,
        accept={"image/*": [".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"]},
        on_drop=UploadState.handle_upload(rx.upload_files(upload_id=UPLOAD_ID)),
        border=f"2px dashed {ROSE}",
        border_radius="16px",
        padding="3em 1em",
        width="100%",
        cursor="pointer",
        background="var(--color-panel-solid)",
    )
    _name_file_input(zone, "upload-drop-title upload-drop-hint")
    return zone


def upload_page() -> rx.Component:
    """The landing page: what LashMe does and the upload zone."""
    return page_shell(
        rx.heading(tr("home.title"), size="7", text_align="center"),
        rx.text(
            tr("home.subtitle"),
            text_align="center",
            color_scheme="gray",
        ),
        upload_zone(),
        rx.cond(
            UploadState.error != "",
            rx.callout(
                UploadState.error, icon="triangle_alert", color_scheme="red", width="100%", id="upload-error"
            ),
        ),
    )
