"""``/variant/[variant_id]``: large preview, before/after slider, unlock, downloads (full, 4:5, ZIP), note, delete.

Only the owner sees anything: other ids show "not found" and leave the state empty.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from lashme import i18n
from lashme.app import gallery, job_views
from lashme.credits import pricing, unlocks
from lashme.errors import DomainError, NotFound
from lashme.files import downloads
from lashme.files.storage import get_storage
from lashme.files.storage.base import StorageError
from lashme.jobs import lifecycle as jobs
from lashme.models import JobStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.ui.components.compare import compare_slider
from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell
from lashme.ui.state import SessionState


def _variant_view(variant_id: str, user_id: int, locale: str) -> dict:
    """Everything the page shows, for the owner only (raises NotFound otherwise)."""
    storage, ttl = get_storage(), get_settings().url_ttl
    with session_scope() as s:
        variant, job = gallery.owned_variant(s, user_id=user_id, variant_id=variant_id)
        if job.status != JobStatus.DONE:
            raise NotFound("variant.not_ready")
        variants = [v.id for v in jobs.variants_of(s, job.id)]
        owned = unlocks.unlocked_ids(s, user_id=user_id, variant_ids=variants)
        data = {
            "id": variant.id,
            "job_id": job.id,
            "label": i18n.translate(f"preset.{variant.preset}", locale),
            "filtered": variant.filtered,
            "unlocked": variant.id in owned,
            "job_has_unlocked": bool(owned),
            "favorite": variant.favorite,
            "note": job.note or "",
            "created": i18n.format_dt(job.created_at, locale),
            "preview_url": "" if variant.filtered else storage.url(variant.preview_key, expires_in=ttl),
        }
        original_key = job.original_key
    try:
        data["before_url"] = storage.url(
            downloads.ensure_original_preview(original_key, storage=storage), expires_in=ttl
        )
    except StorageError:
        data["before_url"] = ""
    return data


class VariantState(SessionState):
    """The variant on the page (the caller's own) and the busy flags."""

    v: dict = {}
    not_found: bool = False
    loading: bool = True
    preparing: bool = False

    def _route_variant_id(self) -> str:
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1][:32] if len(parts) >= 2 and parts[0] == "variant" else ""

    async def _reload(self, user_id: int, variant_id: str) -> None:
        try:
            self.v = await asyncio.to_thread(_variant_view, variant_id, user_id, self.lang)
            self.not_found = False
        except DomainError:
            self.v, self.not_found = {}, True
        self.loading = False

    @rx.event
    async def on_load(self):
        """Show the variant in the URL if it is the caller's."""
        self._ensure_anon()
        self.loading, self.preparing, self.v, self.not_found = True, False, {}, False
        user_id = self._refresh_user()
        variant_id = self._route_variant_id()
        if user_id is None:
            yield rx.redirect(f"/login?next=/variant/{variant_id}")
            return
        yield
        await self._reload(user_id, variant_id)

    def _current(self) -> str:
        return str(self.v.get("id", ""))

    @rx.event
    async def unlock(self):
        """Spend the unlock price (1 credit) on this variant; free if already unlocked."""
        user_id, vid = self._user_id(), self._current()
        if user_id is None:
            yield rx.redirect("/login")
            return

        def _unlock():
            with session_scope() as s:
                return unlocks.unlock_variant(
                    s, user_id=user_id, variant_id=vid, cost=pricing.get_prices(s).unlock_cost
                )

        try:
            result = await asyncio.to_thread(_unlock)
        except DomainError as exc:
            yield rx.toast.error(self._err(exc))
            return
        self._refresh_user()
        await self._reload(user_id, vid)
        yield rx.toast.success(self._tr("job.unlocked_toast" if result.charged else "job.already_unlocked"))

    @rx.event
    def download(self, kind: str):
        """Download the unlocked variant, ``full`` size or the Instagram ``insta`` 4:5 crop."""
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            url = job_views.download_url(
                self._current(), user_id=user_id, kind="insta" if kind == "insta" else "full"
            )
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        return rx.download(url=url)

    @rx.event
    async def download_zip(self):
        """All unlocked variants of this job as one ZIP, through a signed URL bound to this user."""
        user_id, job_id = self._user_id(), str(self.v.get("job_id", ""))
        if user_id is None:
            yield rx.redirect("/login")
            return
        self.preparing = True
        yield

        def _check():
            with session_scope() as s:
                job = jobs.get_owned_job(s, job_id, user_id=user_id, anon_token=None)
                ids = [v.id for v in jobs.variants_of(s, job.id)]
                if not unlocks.unlocked_ids(s, user_id=user_id, variant_ids=ids):
                    raise NotFound("gallery.nothing_unlocked")

        try:
            await asyncio.to_thread(_check)
        except DomainError as exc:
            self.preparing = False
            yield rx.toast.error(self._err(exc))
            return
        self.preparing = False
        yield rx.download(url=downloads.zip_url(job_id, user_id=user_id))

    @rx.event
    def save_note(self, form: dict):
        """Store the job's note (searchable in the gallery)."""
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        try:
            with session_scope() as s:
                note = gallery.set_note(
                    s, user_id=user_id, job_id=str(self.v.get("job_id", "")), note=str(form.get("note", ""))
                )
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self.v = {**self.v, "note": note}
        return rx.toast.success(self._tr("variant.note_saved"))

    @rx.event
    def toggle_favorite(self):
        """Mark or unmark this variant as a favorite."""
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect("/login")
        value = not bool(self.v.get("favorite"))
        try:
            with session_scope() as s:
                gallery.set_favorite(s, user_id=user_id, variant_id=self._current(), favorite=value)
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self.v = {**self.v, "favorite": value}
        return rx.toast.success(self._tr("gallery.favorited" if value else "gallery.unfavorited"))

    @rx.event
    async def delete(self):
        """Delete this variant (files, then row) and go back to the gallery."""
        user_id, vid = self._user_id(), self._current()
        if user_id is None:
            yield rx.redirect("/login")
            return

        def _delete():
            with session_scope() as s:
                gallery.delete_variant(s, user_id=user_id, variant_id=vid, storage=get_storage())

        try:
            await asyncio.to_thread(_delete)
        except DomainError as exc:
            yield rx.toast.error(self._err(exc))
            return
        except StorageError:
            yield rx.toast.error(self._tr("generation.storage_failed"))
            return
        self.v = {}
        yield rx.toast.success(self._tr("gallery.deleted"))
        yield rx.redirect("/gallery")


def _actions() -> rx.Component:
    v = VariantState.v
    return rx.vstack(
        rx.cond(
            v["unlocked"].to(bool),
            rx.flex(
                rx.button(
                    rx.icon("download", size=16),
                    tr("variant.download_full"),
                    on_click=VariantState.download("full"),
                    size="3",
                    id="download-full",
                    flex="1",
                ),
                rx.button(
                    rx.icon("crop", size=16),
                    tr("variant.download_insta"),
                    on_click=VariantState.download("insta"),
                    size="3",
                    variant="soft",
                    id="download-insta",
                    flex="1",
                ),
                gap="2",
                wrap="wrap",
                width="100%",
            ),
            rx.button(
                rx.icon("lock_open", size=16),
                SessionState.unlock_label,
                on_click=VariantState.unlock,
                size="3",
                width="100%",
                id="variant-unlock",
                disabled=v["filtered"].to(bool),
            ),
        ),
        rx.button(
            rx.icon("archive", size=16),
            rx.cond(VariantState.preparing, tr("variant.preparing"), tr("variant.download_zip")),
            on_click=VariantState.download_zip,
            size="3",
            variant="outline",
            width="100%",
            id="download-zip",
            disabled=~v["job_has_unlocked"].to(bool),
        ),
        rx.form(
            rx.vstack(
                rx.text(tr("variant.note"), size="2", weight="bold"),
                rx.hstack(
                    rx.input(
                        name="note",
                        default_value=v["note"].to(str),
                        placeholder=tr("variant.note_placeholder"),
                        size="3",
                        width="100%",
                        id="note-input",
                        max_length=200,
                    ),
                    rx.button(
                        tr("variant.save_note"), type="submit", size="3", variant="soft", id="save-note"
                    ),
                    width="100%",
                ),
                width="100%",
                spacing="1",
            ),
            on_submit=VariantState.save_note,
            reset_on_submit=False,
            width="100%",
        ),
        rx.hstack(
            rx.button(
                rx.icon("heart", size=16, fill=rx.cond(v["favorite"].to(bool), "currentColor", "none")),
                tr("gallery.favorite"),
                on_click=VariantState.toggle_favorite,
                variant="soft",
                size="3",
                id="variant-favorite",
            ),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(
                    rx.button(
                        rx.icon("trash_2", size=16),
                        tr("gallery.delete"),
                        color_scheme="red",
                        variant="soft",
                        size="3",
                        id="variant-delete",
                    )
                ),
                rx.alert_dialog.content(
                    rx.alert_dialog.title(tr("gallery.confirm_variant")),
                    rx.alert_dialog.description(tr("gallery.confirm_text")),
                    rx.flex(
                        rx.alert_dialog.cancel(
                            rx.button(tr("gallery.cancel"), variant="soft", color_scheme="gray")
                        ),
                        rx.alert_dialog.action(
                            rx.button(
                                tr("gallery.delete"),
                                color_scheme="red",
                                on_click=VariantState.delete,
                                id="confirm-delete",
                            )
                        ),
                        gap="3",
                        justify="end",
                        margin_top="1em",
                    ),
                    max_width="420px",
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
        width="100%",
        max_width="480px",
        spacing="3",
    )


def variant_page() -> rx.Component:
    """The variant page body."""
    v = VariantState.v
    return page_shell(
        rx.link(
            rx.hstack(rx.icon("arrow_left", size=16), tr("variant.back"), align="center"),
            href="/gallery",
            align_self="start",
            class_name="lm-touch",
            display="flex",
            align_items="center",
            id="back-to-gallery",
        ),
        rx.cond(
            VariantState.not_found,
            rx.vstack(
                rx.heading(tr("variant.not_found_title"), size="5", id="variant-not-found"),
                rx.text(tr("variant.not_found")),
                align="center",
            ),
            rx.cond(
                VariantState.loading,
                rx.skeleton(rx.box(width="100%", max_width="480px", aspect_ratio="1"), loading=True),
                rx.vstack(
                    rx.heading(v["label"].to(str), size="6", id="variant-title"),
                    rx.text(v["created"].to(str), size="2", color_scheme="gray"),
                    rx.cond(
                        v["before_url"].to(str) != "",
                        compare_slider(
                            v["before_url"].to(str),
                            v["preview_url"].to(str),
                            before_label=tr("variant.before"),
                            after_label=tr("variant.after"),
                            hint=tr("variant.compare"),
                        ),
                        rx.image(
                            src=v["preview_url"].to(str),
                            width="100%",
                            max_width="480px",
                            border_radius="12px",
                        ),
                    ),
                    rx.text(tr("variant.compare"), size="1", color_scheme="gray"),
                    _actions(),
                    rx.link(tr("job.upload_another"), href="/", size="2", color=ROSE),
                    align="center",
                    width="100%",
                    spacing="3",
                ),
            ),
        ),
    )
