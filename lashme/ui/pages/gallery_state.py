"""State of ``/gallery``: the caller's tiles, filters, search, sort and pending deletion.

State keeps only the caller's tiles (ids, thumbnail URLs, short labels) and
the current filters; every handler re-reads the user from the server session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import reflex as rx

from lashme import i18n
from lashme.app import gallery
from lashme.app.caller import Caller
from lashme.errors import DomainError
from lashme.ui.state import SessionState

#: seconds between re-reads while a clean full-size file is being made, and how long to keep trying
RENDER_POLL_S = 1.0
RENDER_POLL_MAX_S = 180.0
#: "load more" pages a URL may ask for at once (4 × 24 tiles: the use-case's 100-row cap)
MAX_URL_PAGES = 4
#: variants one ZIP may hold (the use-case refuses more)
MAX_ZIP_SELECTION = gallery.MAX_ZIP_ENTRIES


def gallery_url(
    *,
    preset: str = "",
    status: str = "",
    q: str = "",
    sort: str = "newest",
    fav: bool = False,
    unlocked: bool = False,
    pages: int = 1,
) -> str:
    """The gallery's address for these filters, e.g. ``/gallery?q=21.11.2026&fav=1&page=2``."""
    params = {
        "q": q,
        "preset": preset,
        "status": status,
        "sort": "" if sort == "newest" else sort,
        "fav": "1" if fav else "",
        "unlocked": "1" if unlocked else "",
        "page": str(pages) if pages > 1 else "",
    }
    query = urlencode({k: v for k, v in params.items() if v})
    return "/gallery" + (f"?{query}" if query else "")


def zip_note(link: gallery.SelectionZip, locale: str) -> str:
    """What the ZIP holds and, in plain words, what was left out (locked, still being prepared)."""
    parts = [i18n.translate("gallery.zip_ready", locale, count=link.count)]
    if link.locked:
        parts.append(i18n.translate("gallery.zip_locked_out", locale, n=link.locked))
    if link.preparing:
        parts.append(i18n.translate("gallery.zip_preparing_out", locale, n=link.preparing))
    if link.capped:
        parts.append(i18n.translate("gallery.zip_capped", locale, max=MAX_ZIP_SELECTION))
    return " ".join(parts)


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
        "rendering": tile.rendering,
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
    #: pages of 24 tiles shown ("load more" adds one); in the URL as ``page``
    pages: int = 1
    #: selection mode: tapping a tile picks it for a ZIP instead of opening it
    selecting: bool = False
    #: the picked variant ids (the use-case checks they are the caller's)
    selected: list[str] = []
    zip_busy: bool = False
    #: page token of the tiles after the loaded ones (backend only; "" = none)
    _next_token: str = ""
    _poll_token: int = 0

    def _query(self, page_token: str = "") -> gallery.GalleryQuery:
        return gallery.GalleryQuery(
            preset=self.preset,
            favorites=self.favorites_only,
            unlocked=self.unlocked_only,
            status=self.status,
            search=self.search,
            sort=self.sort,
            page_token=page_token,
            locale=self.lang,
        )

    @rx.var
    def search_hint(self) -> str:
        """How to search, with today's date written the way the tiles show dates in this language."""
        example = i18n.format_date_short(datetime.now(UTC), self.lang)
        return i18n.translate("gallery.search_hint", self.lang, example=example)

    @rx.var
    def selected_label(self) -> str:
        """``Selected: 3`` in the page's language."""
        return i18n.translate("gallery.selected_n", self.lang, n=len(self.selected))

    def _url(self, *, pages: int | None = None) -> str:
        """``/gallery?…`` for the current filters (only the ones that differ from the defaults)."""
        return gallery_url(
            preset=self.preset,
            status=self.status,
            q=self.search,
            sort=self.sort,
            fav=self.favorites_only,
            unlocked=self.unlocked_only,
            pages=self.pages if pages is None else pages,
        )

    def _read_url(self) -> None:
        """Set the filters from the page's query string (shared links, Back and Forward); bad values are dropped."""
        params = self.router.url.query_parameters
        self.preset = str(params.get("preset", ""))[:64]
        status = str(params.get("status", ""))
        self.status = status if status in gallery.STATUSES else ""
        self.search = str(params.get("q", "")).strip()[:100]
        sort = str(params.get("sort", ""))
        self.sort = sort if sort in gallery.SORTS else "newest"
        self.favorites_only = params.get("fav", "") == "1"
        self.unlocked_only = params.get("unlocked", "") == "1"
        try:
            self.pages = min(max(1, int(str(params.get("page", "1"))[:3])), MAX_URL_PAGES)
        except ValueError:
            self.pages = 1

    def _load(self, caller: Caller, *, more: bool = False) -> None:
        query = self._query(self._next_token if more else "")
        if not more and self.pages > 1:
            query = dataclasses.replace(query, limit=self.pages * gallery.PAGE_SIZE)
        page, refused = self._call(gallery.search, query, caller=caller)
        if refused is not None:
            self.loading = False
            return
        tiles = [item_dict(it, self.lang) for it in page.items]
        self.items = (self.items + tiles) if more else tiles
        self.has_more, self.total, self.loading = page.has_more, page.total, False
        self._next_token = page.next_page_token or ""
        self.presets = [{"code": c, "label": i18n.translate(f"preset.{c}", self.lang)} for c in page.presets]

    def _rendering(self) -> bool:
        return any(it.get("rendering") for it in self.items)

    def _watch_if_rendering(self):
        """The poll below when an unlocked variant's clean files are still being made (else None)."""
        if not self._rendering():
            return None
        self._poll_token += 1
        return GalleryState.watch_renders

    @rx.event(background=True)
    async def watch_renders(self):
        """Swap the watermarked thumbnails for the clean ones as soon as their full size is rendered."""
        async with self:
            token, shown = self._poll_token, len(self.items)
        deadline = time.monotonic() + RENDER_POLL_MAX_S
        while time.monotonic() < deadline:
            await asyncio.sleep(RENDER_POLL_S)
            async with self:
                if token != self._poll_token:
                    return  # filters changed or the page was reloaded: a newer poll (if any) owns it
                query = dataclasses.replace(self._query(), limit=max(shown, gallery.PAGE_SIZE))
            try:
                page = await self._run(gallery.search, query)
            except DomainError:
                return
            async with self:
                if token != self._poll_token:
                    return
                self.items = [item_dict(it, self.lang) for it in page.items]
                self.has_more, self.total = page.has_more, page.total
                self._next_token = page.next_page_token or ""
                if not self._rendering():
                    return

    def _signed_in(self) -> Caller | None:
        caller = self._caller()
        return caller if caller.signed_in else None

    @rx.event
    def on_load(self):
        """Signed-in only: the filters, search, sort and page come from the URL (Back/Forward, shared links)."""
        self._ensure_anon()
        self.loading = True
        caller = self._refresh_user()
        if not caller.signed_in:
            return rx.redirect("/login?next=/gallery")
        self._read_url()
        self.confirm_kind = self.confirm_id = ""
        self.selecting, self.selected, self.zip_busy = False, [], False
        self._load(caller)
        self._poll_token += 1
        return self._watch_if_rendering()

    def _refilter(self):
        """Go to the URL of the new filters (a history entry); its ``on_load`` shows the tiles."""
        if self._signed_in() is None:
            return rx.redirect("/login?next=/gallery")
        self.pages = 1
        return rx.redirect(self._url())

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
        self.pages = min(self.pages + 1, MAX_URL_PAGES)
        # the URL remembers the page without a navigation (that would scroll to the top and reload)
        return rx.call_script(f"history.replaceState(history.state, '', {json.dumps(self._url())})")

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
        self.selected = [v for v in self.selected if v != item_id]
        self._load(caller)
        yield rx.toast.success(self._tr("gallery.deleted"))

    @rx.event
    def toggle_selecting(self):
        """Enter or leave selection mode (leaving it clears the selection)."""
        self.selecting = not self.selecting
        self.selected = []

    @rx.event
    def toggle_selected(self, variant_id: str):
        """Pick or unpick one tile for the ZIP."""
        variant_id = str(variant_id)[:32]
        if not variant_id:
            return None
        if variant_id in self.selected:
            self.selected = [v for v in self.selected if v != variant_id]
            return None
        if len(self.selected) >= MAX_ZIP_SELECTION:
            return rx.toast.info(self._tr("gallery.zip_too_many", max=MAX_ZIP_SELECTION))
        self.selected = [*self.selected, variant_id]
        return None

    @rx.event
    async def download_selected_zip(self):
        """A ZIP of the picked variants (only the unlocked ones: the toast says what was left out)."""
        async for update in self._zip(favorites=False):
            yield update

    @rx.event
    async def download_favorites_zip(self):
        """A ZIP of every favourite (only the unlocked ones: the toast says what was left out)."""
        async for update in self._zip(favorites=True):
            yield update

    async def _zip(self, *, favorites: bool):
        if self._signed_in() is None:
            yield rx.redirect("/login?next=/gallery")
            return
        if self.zip_busy or (not favorites and not self.selected):
            return
        self.zip_busy = True
        yield
        ids = [] if favorites else list(self.selected)
        link, refused = await self._call_async(gallery.zip_selection, ids, favorites=favorites)
        self.zip_busy = False
        if refused is not None:
            yield refused
            return
        yield rx.toast.info(zip_note(link, self.lang))
        yield rx.download(url=link.url)
