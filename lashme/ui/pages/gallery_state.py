"""State of ``/gallery``: the caller's tiles, filters, search, sort and pending deletion.

State keeps only the caller's tiles (ids, thumbnail URLs, short labels) and
the current filters; every handler re-reads the user from the server session.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from lashme import i18n
from lashme.app import gallery
from lashme.errors import MESSAGES, DomainError
from lashme.files.storage import get_storage
from lashme.files.storage.base import StorageError
from lashme.models import JobStatus
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.ui.state import SessionState

STATUSES = tuple(s.value for s in JobStatus)


def item_dict(item: gallery.GalleryItem, locale: str, storage, ttl: int) -> dict:
    """A grid tile for state: ids, a signed thumbnail URL, labels in ``locale``."""
    show_thumb = item.variant_id and not item.filtered and item.thumb_key
    return {
        "id": item.variant_id,
        "job_id": item.job_id,
        "thumb_url": storage.url(item.thumb_key, expires_in=ttl) if show_thumb else "",
        "label": i18n.translate(f"preset.{item.preset}", locale) if item.preset else "",
        "status": item.status,
        "status_label": i18n.translate(f"status.{item.status}", locale),
        "favorite": item.favorite,
        "unlocked": item.unlocked,
        "filtered": item.filtered,
        "date": i18n.format_dt(item.created_at, locale, fmt="short"),
        "note": item.note,
        "error": i18n.translate(item.error_key if item.error_key in MESSAGES else "generation.failed", locale)
        if item.error_key
        else "",
        "final": item.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELED),
    }


class GalleryState(SessionState):
    """Filters and the loaded tiles of the caller's gallery."""

    items: list[dict] = []
    has_more: bool = False
    total: int = 0
    loading: bool = True
    preset: str = ""
    favorites_only: bool = False
    unlocked_only: bool = False
    status: str = ""
    search: str = ""
    sort: str = "newest"
    presets: list[dict] = []
    confirm_kind: str = ""  # "variant" | "job" while the delete dialog is open
    confirm_id: str = ""

    def _query(self, offset: int) -> gallery.GalleryQuery:
        return gallery.GalleryQuery(
            preset=self.preset,
            favorites=self.favorites_only,
            unlocked=self.unlocked_only,
            status=self.status,
            search=self.search,
            sort=self.sort,
            offset=offset,
        )

    def _load(self, user_id: int, *, more: bool = False) -> None:
        offset = len(self.items) if more else 0
        storage, ttl = get_storage(), get_settings().url_ttl
        with session_scope() as s:
            page = gallery.list_items(s, user_id=user_id, query=self._query(offset))
            codes = gallery.presets_of(s, user_id=user_id)
        tiles = [item_dict(it, self.lang, storage, ttl) for it in page.items]
        self.items = (self.items + tiles) if more else tiles
        self.has_more, self.total, self.loading = page.has_more, page.total, False
        self.presets = [{"code": c, "label": i18n.translate(f"preset.{c}", self.lang)} for c in codes]

    def _require_user(self) -> int | None:
        return self._user_id()

    @rx.event
    def on_load(self):
        """Signed-in only: reset the filters and show the first page."""
        self._ensure_anon()
        self.loading = True
        user_id = self._refresh_user()
        if user_id is None:
            return rx.redirect("/login?next=/gallery")
        self.preset, self.status, self.search, self.sort = "", "", "", "newest"
        self.favorites_only = self.unlocked_only = False
        self.confirm_kind = self.confirm_id = ""
        self._load(user_id)

    def _refilter(self):
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect("/login?next=/gallery")
        self._load(user_id)
        return None

    @rx.event
    def set_preset_filter(self, value: str):
        """Only one preset (``all`` = every preset)."""
        value = str(value)[:64]
        self.preset = "" if value == "all" else value
        return self._refilter()

    @rx.event
    def set_status_filter(self, value: str):
        """Only jobs in one status (``all`` = any)."""
        value = str(value)
        self.status = value if value in STATUSES else ""
        return self._refilter()

    @rx.event
    def set_sort_order(self, value: str):
        """``newest`` | ``oldest`` | ``favorites``."""
        value = str(value)
        self.sort = value if value in gallery.SORTS else "newest"
        return self._refilter()

    @rx.event
    def toggle_favorites_filter(self):
        """Show only favorites, or everything again."""
        self.favorites_only = not self.favorites_only
        return self._refilter()

    @rx.event
    def toggle_unlocked_filter(self):
        """Show only unlocked variants, or everything again."""
        self.unlocked_only = not self.unlocked_only
        return self._refilter()

    @rx.event
    def run_search(self, form: dict):
        """Search by preset name, date (``YYYY-MM-DD``/``DD.MM.YYYY``) or note."""
        self.search = str(form.get("q", "")).strip()[:100]
        return self._refilter()

    @rx.event
    def load_more(self):
        """Append the next 24 tiles."""
        user_id = self._user_id()
        if user_id is None:
            return rx.redirect("/login?next=/gallery")
        self._load(user_id, more=True)
        return None

    @rx.event
    async def toggle_favorite(self, variant_id: str):
        """Flip a favorite at once (optimistic), then confirm on the server; roll back on failure."""
        variant_id = str(variant_id)[:32]
        user_id = self._user_id()
        if user_id is None:
            yield rx.redirect("/login?next=/gallery")
            return
        idx = next((i for i, it in enumerate(self.items) if it["id"] == variant_id), None)
        if idx is None:
            yield rx.toast.error(self._err(DomainError("variant.not_found")))
            return
        new_value = not self.items[idx]["favorite"]
        self.items[idx] = {**self.items[idx], "favorite": new_value}
        yield

        def _set():
            with session_scope() as s:
                return gallery.set_favorite(s, user_id=user_id, variant_id=variant_id, favorite=new_value)

        try:
            await asyncio.to_thread(_set)
        except DomainError as exc:
            self.items[idx] = {**self.items[idx], "favorite": not new_value}
            yield rx.toast.error(self._err(exc))
            return
        yield rx.toast.success(self._tr("gallery.favorited" if new_value else "gallery.unfavorited"))

    @rx.event
    def ask_delete(self, variant_id: str, job_id: str):
        """Open the confirm dialog for a variant (or, for a tile without variants, its job)."""
        variant_id, job_id = str(variant_id)[:32], str(job_id)[:32]
        self.confirm_kind = "variant" if variant_id else "job"
        self.confirm_id = variant_id or job_id

    @rx.event
    def cancel_delete(self):
        """Close the confirm dialog."""
        self.confirm_kind = self.confirm_id = ""

    @rx.event
    async def confirm_delete(self):
        """Delete the confirmed variant or job (files first, then rows); credit history stays."""
        kind, item_id = self.confirm_kind, self.confirm_id
        self.confirm_kind = self.confirm_id = ""
        user_id = self._user_id()
        if user_id is None:
            yield rx.redirect("/login?next=/gallery")
            return
        if not item_id:
            return

        def _delete():
            with session_scope() as s:
                if kind == "job":
                    gallery.delete_job(s, user_id=user_id, job_id=item_id, storage=get_storage())
                else:
                    gallery.delete_variant(s, user_id=user_id, variant_id=item_id, storage=get_storage())

        try:
            await asyncio.to_thread(_delete)
        except DomainError as exc:
            yield rx.toast.error(self._err(exc))
            return
        except StorageError:
            yield rx.toast.error(self._tr("generation.storage_failed"))
            return
        self._load(user_id)
        yield rx.toast.success(self._tr("gallery.deleted"))


