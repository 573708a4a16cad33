"""Paging helpers shared by the lists (ledger history, admin lists)."""

from __future__ import annotations


def clamp_page(value: object, pages: int) -> int:
    """A client-sent page number as an int in ``1..pages`` (garbage, NaN or ±Infinity → 1 or the edge).

    Args:
        value: whatever the client sent (``2``, ``"3"``, ``None``, ``float("inf")`` …).
        pages: how many pages there are (at least 1 is assumed).
    """
    try:
        page = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        page = 1
    return min(max(1, page), max(1, pages))
