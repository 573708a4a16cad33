"""Newer / page x of y / Older buttons for a paginated list (the credit ledger)."""

from __future__ import annotations

import reflex as rx

from lashme.ui.i18n import tr


def pager(page: rx.Var, pages: rx.Var, go_to) -> rx.Component:
    """Buttons that call ``go_to(page ± 1)``; ``page``/``pages`` are 1-based state vars."""
    return rx.hstack(
        rx.button(tr("credits.newer"), on_click=go_to(page - 1), disabled=page <= 1, variant="soft"),
        rx.text(page, " / ", pages, size="2"),
        rx.button(tr("credits.older"), on_click=go_to(page + 1), disabled=page >= pages, variant="soft"),
        align="center",
        spacing="3",
    )
