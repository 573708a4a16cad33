"""State of ``/gallery``: the caller's tiles, filters, search, sort and pending deletion.

State keeps only the caller's tiles (ids, thumbnail URLs, short labels) and
the current filters; every handler re-reads the user from the server session.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from lashme import i18n
from lashme.app import gallery
from lashme.app.caller import Caller
from lashme.errors import DomainError
from lashme.ui.state import SessionState


def item_dict(tile: gallery.GalleryTile, locale: str) -> dict:
    """A grid tile for state: the use-case's tile plus its labels in ``locale``."""
    return {
        **dataclasses.asdict(tile),
        "id": tile.variant_id,
        "created_at": tile.created_at.isoformat(),
        "label": i18n.translate(tile.label_key, locale) if tile.label_key else "",
        "status_label": i18n.translate(f"status.{tile.status}", locale),
        "date": i18n.format_dt(tile.created_at, locale, fmt="short"),
        "error": i18n.translate(tile.error_key, locale) if tile.error_key else "",
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

    def _load(self, caller: Caller, *, more: bool = False) -> None:
        page, refused = self._call(gallery.search, self._query(len(self.items) if more else 0), caller=caller)
        if refused is not None:
            self.loading = False
            return
        tiles = [item_dict(it, self.lang) for it in page.items]
        self.items = (self.items + tiles) if more else tiles
        self.has_more, self.total, self.loading = page.has_more, page.total, False
        self.presets = [{"code": c, "label": i18n.translate(f"preset.{c}", self.lang)} for c in page.presets]

    def _signed_in(self) -> Caller | None:
        caller = self._caller()
        return caller if caller.signed_in else None

    @rx.event
    def on_load(self):
        """Signed-in only: reset the filters and show the first page."""
        self._ensure_anon()
        self.loading = True
        caller = self._refresh_user()
        if not caller.signed_in:
            return rx.redirect("/login?next=/gallery")
        self.preset, self.status, self.search, self.sort = "", "", "", "newest"
        self.favorites_only = self.unlocked_only = False
        self.confirm_kind = self.confirm_id = ""
        self._load(caller)

    def _refilter(self):
        caller = self._signed_in()
        if caller is None:
            return rx.redirect("/login?next=/gallery")
        self._load(caller)
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
        self.status = value if value in gallery.STATUSES else ""
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
        caller = self._signed_in()
        if caller is None:
            return rx.redirect("/login?next=/gallery")
        self._load(caller, more=True)
        return None

    @rx.event
    async def toggle_favorite(self, variant_id: str):
        """Flip a favorite at once (optimistic), then confirm on the server; roll back on failure."""
        variant_id = str(variant_id)[:32]
        if self._signed_in() is None:
            yield rx.redirect("/login?next=/gallery")
            return
        idx = next((i for i, it in enumerate(self.items) if it["id"] == variant_id), None)
        if idx is None:
            yield rx.toast.error(self._err(DomainError("variant.not_found")))
            return
        new_value = not self.items[idx]["favorite"]
        self.items[idx] = {**self.items[idx], "favorite": new_value}
        yield
        _, refused = await self._call_async(gallery.set_favorite, variant_id, new_value)
        if refused is not None:
            self.items[idx] = {**self.items[idx], "favorite": not new_value}
            yield refused
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
        caller = self._signed_in()
        if caller is None:
            yield rx.redirect("/login?next=/gallery")
            return
        if not item_id:
            return
        delete = gallery.delete_job if kind == "job" else gallery.delete_variant
        _, refused = await self._call_async(delete, item_id)
        if refused is not None:
            yield refused
            return
        self._load(caller)
        yield rx.toast.success(self._tr("gallery.deleted"))
