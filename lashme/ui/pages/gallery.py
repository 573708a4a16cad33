"""``/gallery``: the signed-in user's variants as thumbnails, 24 per page, with filters, search and sort.

The page's components; its state is :class:`lashme.ui.pages.gallery_state.GalleryState`.
"""

from __future__ import annotations

import reflex as rx

from lashme.app.gallery import STATUSES
from lashme.ui.components.unlock import preparing_badge
from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell
from lashme.ui.pages.gallery_state import GalleryState
from lashme.ui.state import SessionState

__all__ = ["GalleryState", "gallery_page"]


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
            class_name=rx.cond(it["clean"].to(bool), "gallery-thumb is-clean", "gallery-thumb"),
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


def _select_overlay(vid) -> rx.Component:
    """In selection mode: the whole tile is one toggle that picks the variant for the ZIP."""
    picked = GalleryState.selected.contains(vid)
    return rx.el.button(
        rx.cond(
            picked,
            rx.icon("circle_check", size=26, color="white", fill="var(--pink-9)"),
            rx.icon("circle", size=26, color="white"),
        ),
        type="button",
        on_click=GalleryState.toggle_selected(vid),
        aria_pressed=rx.cond(picked, "true", "false"),
        aria_label=tr("gallery.select_tile"),
        class_name=rx.cond(picked, "select-tile is-selected", "select-tile"),
        style={
            "position": "absolute",
            "inset": "0",
            "width": "100%",
            "height": "100%",
            "display": "flex",
            "align_items": "flex-start",
            "justify_content": "flex-start",
            "padding": "8px",
            "cursor": "pointer",
            "border_radius": "8px",
            "border": rx.cond(picked, "3px solid var(--pink-9)", "3px solid transparent"),
            "background": rx.cond(picked, "rgba(0,0,0,.25)", "rgba(0,0,0,.08)"),
        },
    )


def selection_bar() -> rx.Component:
    """While selecting: how many are picked, the ZIP of them, the ZIP of all favourites, done."""
    return rx.cond(
        GalleryState.selecting,
        rx.flex(
            rx.text(GalleryState.selected_label, weight="bold", id="selected-count"),
            rx.button(
                rx.icon("download", size=16),
                tr("gallery.zip_selected"),
                on_click=GalleryState.download_selected_zip,
                disabled=GalleryState.selected.length() == 0,
                loading=GalleryState.zip_busy,
                size="3",
                id="zip-selected",
            ),
            rx.button(
                rx.icon("heart", size=16),
                tr("gallery.zip_favorites"),
                on_click=GalleryState.download_favorites_zip,
                loading=GalleryState.zip_busy,
                variant="soft",
                size="3",
                id="zip-favorites",
            ),
            rx.button(
                tr("gallery.select_done"),
                on_click=GalleryState.toggle_selecting,
                variant="outline",
                size="3",
                id="select-done",
            ),
            rx.text(tr("gallery.zip_hint"), size="2", color_scheme="gray", width="100%"),
            wrap="wrap",
            gap="2",
            align="center",
            width="100%",
            padding="0.75em",
            border_radius="12px",
            background="var(--color-panel-solid)",
            box_shadow="0 -2px 12px rgba(0,0,0,.12)",
            position="sticky",
            bottom="8px",
            z_index="5",
            id="selection-bar",
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
            rx.cond(GalleryState.selecting & is_variant, _select_overlay(vid)),
            rx.cond(
                it["rendering"].to(bool),
                preparing_badge(),
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
                        role="img",  # an icon-only badge: aria-label is allowed on an image, not on a bare span
                        aria_label=tr("paid.unlocked_badge"),
                    ),
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
                    key=GalleryState.search,  # re-mounted when Back/Forward change the URL's search
                    aria_label=tr("gallery.search"),
                    # the hint carries today's date in the reader's language: prerendered, the catalog's
                    # short text stands in (swapped per language), so the first paint has no build-date Russian
                    title=rx.cond(SessionState.session_known, GalleryState.search_hint, tr("gallery.search")),
                ),
                rx.icon_button(
                    rx.icon("search", size=18, aria_hidden="true"),
                    type="submit",
                    size="3",
                    id="gallery-search-go",
                    aria_label=tr("gallery.search"),
                ),
                width="100%",
            ),
            on_submit=GalleryState.run_search,
            reset_on_submit=False,
            width="100%",
        ),
        rx.flex(
            rx.select.root(
                rx.select.trigger(
                    placeholder=tr("gallery.all_presets"),
                    id="filter-preset",
                    aria_label=tr("a11y.filter_preset"),
                ),
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
                rx.select.trigger(id="filter-status", aria_label=tr("a11y.filter_status")),
                rx.select.content(
                    rx.select.item(tr("gallery.any_status"), value="all"),
                    *[rx.select.item(tr(f"status.{s}"), value=s) for s in STATUSES],
                ),
                value=rx.cond(GalleryState.status == "", "all", GalleryState.status),
                on_change=GalleryState.set_status_filter,
                size="3",
            ),
            rx.select.root(
                rx.select.trigger(id="sort-order", aria_label=tr("a11y.sort")),
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
            rx.button(
                rx.icon("square_check_big", size=14),
                tr("gallery.select"),
                on_click=GalleryState.toggle_selecting,
                variant=rx.cond(GalleryState.selecting, "solid", "outline"),
                id="gallery-select",
                size="3",
            ),
            rx.cond(
                GalleryState.favorites_only & ~GalleryState.selecting,
                rx.button(
                    rx.icon("download", size=14),
                    tr("gallery.zip_favorites"),
                    on_click=GalleryState.download_favorites_zip,
                    loading=GalleryState.zip_busy,
                    variant="soft",
                    id="zip-favorites-filter",
                    size="3",
                ),
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
        selection_bar(),
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
