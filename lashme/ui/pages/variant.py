"""``/variant/[variant_id]``: large preview, before/after slider, unlock, downloads (full, 4:5, ZIP), note, delete.

Only the owner sees anything: other ids show "not found" and leave the state empty.  The state and
its handlers are :mod:`lashme.ui.pages.variant_state`.
"""

from __future__ import annotations

import reflex as rx

from lashme.ui.components.compare import compare_slider
from lashme.ui.components.unlock import preparing_badge, unlock_dialog
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell
from lashme.ui.pages.variant_state import VariantState


def _actions() -> rx.Component:
    v = VariantState.v
    return rx.vstack(
        rx.cond(
            v["unlocked"].to(bool) & (v["fullres"].to(str) != "ready"),
            rx.cond(
                v["fullres"].to(str) == "failed",
                rx.button(
                    rx.icon("rotate_ccw", size=16),
                    tr("app.fullres_failed"),
                    on_click=VariantState.unlock,
                    size="3",
                    width="100%",
                    color_scheme="red",
                    variant="soft",
                    id="fullres-retry",
                ),
                rx.button(
                    rx.spinner(size="2"),
                    tr("paid.preparing"),
                    size="3",
                    width="100%",
                    variant="soft",
                    disabled=True,
                    id="fullres-preparing",
                ),
            ),
        ),
        rx.cond(
            v["unlocked"].to(bool) & (v["fullres"].to(str) == "ready"),
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
                rx.cond(
                    v["full_size"].to(str) != "",
                    rx.text(
                        v["full_size"].to(str), size="1", color_scheme="gray", width="100%", id="full-size"
                    ),
                ),
                rx.cond(
                    v["small_crops_note"].to(str) != "",
                    rx.callout(
                        v["small_crops_note"].to(str),
                        icon="info",
                        size="1",
                        width="100%",
                        id="crops-too-small",
                    ),
                ),
                gap="2",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                ~v["unlocked"].to(bool),
                rx.cond(
                    v["altered"].to(bool),
                    rx.callout(tr("fidelity.altered_note"), icon="info", width="100%", id="variant-altered"),
                    rx.button(
                        rx.icon("lock_open", size=16),
                        VariantState.unlock_button,
                        on_click=VariantState.ask_unlock,
                        size="3",
                        width="100%",
                        id="variant-unlock",
                        disabled=v["filtered"].to(bool) | (VariantState.unlocking != ""),
                        loading=VariantState.unlocking != "",
                    ),
                ),
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
                    rx.box(
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
                                class_name="compare-after",
                            ),
                        ),
                        rx.cond(v["rendering"].to(bool), preparing_badge()),
                        position="relative",
                        width="100%",
                        max_width="480px",
                        class_name=rx.cond(v["clean"].to(bool), "variant-image is-clean", "variant-image"),
                    ),
                    rx.text(tr("variant.compare"), size="1", color_scheme="gray"),
                    _actions(),
                    unlock_dialog(VariantState),
                    rx.link(tr("job.upload_another"), href="/", size="2", color="var(--pink-11)"),
                    align="center",
                    width="100%",
                    spacing="3",
                ),
            ),
        ),
    )
