"""``/gallery``: the signed-in user's variants as thumbnails, 24 per page, with filters, search and sort.

State keeps only the caller's tiles (ids, thumbnail URLs, short labels) and
the current filters; every handler re-reads the user from the server session.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from lashme import gallery, i18n
from lashme.db import session_scope
from lashme.errors import MESSAGES, DomainError
from lashme.models import JobStatus
from lashme.settings import get_settings
from lashme.storage import get_storage
from lashme.storage.base import StorageError
from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell
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


def _tile_image(it) -> rx.Component:
    return rx.cond(
        it["thumb_url"].to(str) != "",
        rx.image(
            src=it["thumb_url"].to(str),
            alt=it["label"].to(str),
            loading="lazy",
            width="100%",
            height="100%",
            object_fit="cover",
            class_name="gallery-thumb",
        ),
        rx.center(
            rx.cond(
                it["filtered"].to(bool),
                rx.text(tr("job.filtered"), size="2", color_scheme="gray"),
                rx.icon("image", color="var(--gray-8)"),
            ),
            width="100%",
            height="100%",
        ),
    )


def tile(it) -> rx.Component:
    """One tile: thumbnail (links to the variant page), favorite heart, delete; or a job's status."""
    vid = it["id"].to(str)
    is_variant = vid != ""
    return rx.card(
        rx.box(
            rx.cond(
                is_variant,
                rx.link(
                    _tile_image(it),
                    href="/variant/" + vid,
                    class_name="tile-link",
                    display="block",
                    width="100%",
                    height="100%",
                ),
                rx.center(
                    rx.vstack(
                        rx.badge(it["status_label"].to(str), class_name="tile-status"),
                        rx.text(it["error"].to(str), size="1", color_scheme="red", text_align="center"),
                        align="center",
                    ),
                    width="100%",
                    height="100%",
                ),
            ),
            rx.cond(
                is_variant,
                rx.icon_button(
                    rx.icon("heart", fill=rx.cond(it["favorite"].to(bool), "currentColor", "none"), size=18),
                    on_click=GalleryState.toggle_favorite(vid),
                    variant=rx.cond(it["favorite"].to(bool), "solid", "soft"),
                    color_scheme="pink",
                    radius="full",
                    position="absolute",
                    top="6px",
                    right="6px",
                    class_name=rx.cond(it["favorite"].to(bool), "fav-button is-favorite", "fav-button"),
                    aria_label=tr("gallery.favorite"),
                ),
            ),
            rx.cond(
                it["unlocked"].to(bool),
                rx.badge(
                    rx.icon("lock_open", size=12),
                    color_scheme="amber",
                    variant="solid",
                    position="absolute",
                    bottom="6px",
                    left="6px",
                    class_name="unlocked-badge",
                ),
            ),
            position="relative",
            width="100%",
            aspect_ratio="1",
            overflow="hidden",
            border_radius="8px",
        ),
        rx.hstack(
            rx.vstack(
                rx.text(
                    rx.cond(is_variant, it["label"].to(str), it["status_label"].to(str)),
                    size="2",
                    weight="bold",
                    class_name="tile-label",
                    trim="both",
                ),
                rx.text(it["date"].to(str), size="1", color_scheme="gray"),
                spacing="0",
                min_width="0",
                flex="1",
            ),
            rx.cond(
                is_variant | it["final"].to(bool),
                rx.icon_button(
                    rx.icon("trash_2", size=16),
                    on_click=GalleryState.ask_delete(vid, it["job_id"].to(str)),
                    variant="ghost",
                    color_scheme="gray",
                    class_name="delete-button",
                    aria_label=tr("gallery.delete"),
                ),
            ),
            width="100%",
            align="center",
            padding_top="0.4em",
        ),
        class_name="gallery-tile",
        padding="0.5em",
    )


def filters() -> rx.Component:
    """Search, preset/status/sort selects and the favorites/unlocked toggles (wrap on a phone)."""
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(
                    name="q",
                    placeholder=tr("gallery.search"),
                    id="gallery-search",
                    size="3",
                    width="100%",
                    default_value=GalleryState.search,
                ),
                rx.icon_button(rx.icon("search", size=18), type="submit", size="3", id="gallery-search-go"),
                width="100%",
            ),
            on_submit=GalleryState.run_search,
            reset_on_submit=False,
            width="100%",
        ),
        rx.flex(
            rx.select.root(
                rx.select.trigger(placeholder=tr("gallery.all_presets"), id="filter-preset"),
                rx.select.content(
                    rx.select.item(tr("gallery.all_presets"), value="all"),
                    rx.foreach(
                        GalleryState.presets,
                        lambda p: rx.select.item(p["label"].to(str), value=p["code"].to(str)),
                    ),
                ),
                value=rx.cond(GalleryState.preset == "", "all", GalleryState.preset),
                on_change=GalleryState.set_preset_filter,
                size="3",
            ),
            rx.select.root(
                rx.select.trigger(id="filter-status"),
                rx.select.content(
                    rx.select.item(tr("gallery.any_status"), value="all"),
                    *[rx.select.item(tr(f"status.{s}"), value=s) for s in STATUSES],
                ),
                value=rx.cond(GalleryState.status == "", "all", GalleryState.status),
                on_change=GalleryState.set_status_filter,
                size="3",
            ),
            rx.select.root(
                rx.select.trigger(id="sort-order"),
                rx.select.content(
                    rx.select.item(tr("gallery.sort_newest"), value="newest"),
                    rx.select.item(tr("gallery.sort_oldest"), value="oldest"),
                    rx.select.item(tr("gallery.sort_favorites"), value="favorites"),
                ),
                value=GalleryState.sort,
                on_change=GalleryState.set_sort_order,
                size="3",
            ),
            rx.button(
                rx.icon("heart", size=14),
                tr("gallery.favorites"),
                on_click=GalleryState.toggle_favorites_filter,
                variant=rx.cond(GalleryState.favorites_only, "solid", "outline"),
                id="filter-favorites",
                size="3",
            ),
            rx.button(
                rx.icon("lock_open", size=14),
                tr("gallery.unlocked"),
                on_click=GalleryState.toggle_unlocked_filter,
                variant=rx.cond(GalleryState.unlocked_only, "solid", "outline"),
                id="filter-unlocked",
                size="3",
            ),
            wrap="wrap",
            gap="2",
            width="100%",
        ),
        width="100%",
        spacing="3",
    )


def delete_dialog() -> rx.Component:
    """Confirm before deleting anything."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.cond(
                    GalleryState.confirm_kind == "job",
                    tr("gallery.confirm_job"),
                    tr("gallery.confirm_variant"),
                )
            ),
            rx.alert_dialog.description(tr("gallery.confirm_text")),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button(
                        tr("gallery.cancel"),
                        variant="soft",
                        color_scheme="gray",
                        on_click=GalleryState.cancel_delete,
                    )
                ),
                rx.alert_dialog.action(
                    rx.button(
                        tr("gallery.delete"),
                        color_scheme="red",
                        id="confirm-delete",
                        on_click=GalleryState.confirm_delete,
                    )
                ),
                gap="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="420px",
        ),
        open=GalleryState.confirm_id != "",
    )


def gallery_page() -> rx.Component:
    """The gallery page body."""
    return page_shell(
        rx.heading(tr("gallery.title"), size="7", align_self="start"),
        filters(),
        rx.cond(
            GalleryState.loading,
            rx.grid(
                *[rx.skeleton(rx.box(aspect_ratio="1", width="100%"), loading=True) for _ in range(8)],
                columns=rx.breakpoints(initial="2", sm="3", md="4"),
                spacing="3",
                width="100%",
            ),
            rx.cond(
                GalleryState.items.length() > 0,
                rx.grid(
                    rx.foreach(GalleryState.items, tile),
                    columns=rx.breakpoints(initial="2", sm="3", md="4"),
                    spacing="3",
                    width="100%",
                    id="gallery-grid",
                ),
                rx.cond(
                    (GalleryState.search == "")
                    & (GalleryState.preset == "")
                    & (GalleryState.status == "")
                    & ~GalleryState.favorites_only
                    & ~GalleryState.unlocked_only,
                    rx.vstack(
                        rx.icon("images", size=48, color=ROSE),
                        rx.heading(tr("gallery.empty_title"), size="5"),
                        rx.text(tr("gallery.empty_text"), color_scheme="gray", text_align="center"),
                        rx.link(rx.button(tr("gallery.empty_link"), size="3"), href="/", id="empty-upload"),
                        align="center",
                        id="gallery-empty",
                        padding_y="2em",
                    ),
                    rx.text(tr("gallery.no_match"), color_scheme="gray", id="gallery-no-match"),
                ),
            ),
        ),
        rx.cond(
            GalleryState.has_more,
            rx.button(
                tr("gallery.load_more"),
                on_click=GalleryState.load_more,
                variant="soft",
                size="3",
                id="load-more",
                width="100%",
                max_width="320px",
            ),
        ),
        delete_dialog(),
    )
