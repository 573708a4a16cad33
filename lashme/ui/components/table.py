"""The one scrollable table of the signed-in pages (orders, the credit ledger)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx


def scroll_table(
    headers: Sequence[Any], rows: rx.Var, cells: Sequence[Callable[[Any], Any]], table_id: str, **props: Any
) -> rx.Component:
    """A small table that scrolls sideways on a phone (and is reachable by keyboard when it does).

    Args:
        headers: the column headers (texts or ``tr(...)`` vars), one a column.
        rows: the state var holding the rows (a list of dicts).
        cells: one function a column, from a row var to that column's cell content.
        table_id: DOM id of the ``<table>``.
        props: more props for the scrolling box (``role``, ``aria_label`` …).
    """
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, lambda r: rx.table.row(*[rx.table.cell(c(r)) for c in cells]))),
            size="1",
            width="100%",
            id=table_id,
        ),
        width="100%",
        overflow_x="auto",
        tab_index=0,  # scrolls sideways on a phone: reachable by keyboard (assets/theme.css .lm-table-scroll)
        class_name="lm-table-scroll",
        **props,
    )
