"""The 404 page (Reflex serves it for every unknown path)."""

from __future__ import annotations

import reflex as rx

from lashme.ui.i18n import tr
from lashme.ui.layout import ROSE, page_shell


def not_found_page() -> rx.Component:
    """The 404 page."""
    return page_shell(
        rx.icon("search_x", size=48, color=ROSE),
        rx.heading(tr("nf.title"), size="6", id="not-found-title"),
        rx.text(tr("nf.text"), color_scheme="gray"),
        rx.link(rx.button(tr("nf.home"), size="3"), href="/"),
    )
