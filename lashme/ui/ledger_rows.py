"""Ledger rows as table cells in the reader's language (credits page and dashboard)."""

from __future__ import annotations

from lashme import i18n
from lashme.app.credits import LedgerPage, LedgerRow


def row_dict(row: LedgerRow, locale: str) -> dict:
    """One :class:`~lashme.app.credits.LedgerRow` for state.

    Returns:
        ``id``, ``date``, ``kind``, ``delta`` (``"+3"``, or the change of held credits),
        ``balance`` and ``reason`` (as an admin wrote it, else translated).
    """
    if row.delta:
        delta = f"{row.delta:+d}"
    elif row.held_delta:
        delta = i18n.translate("credits.held_change", locale, n=f"{row.held_delta:+d}")
    else:
        delta = "0"
    return {
        "id": row.id,
        "date": i18n.format_dt(row.created_at, locale, fmt="short"),
        "kind": i18n.translate(f"kind.{row.kind}", locale),
        "delta": delta,
        "balance": row.balance_after,
        "reason": row.reason if row.human_reason else i18n.translate(f"reason.{row.kind}", locale),
    }


def page_rows(page: LedgerPage, locale: str) -> list[dict]:
    """Every row of a ledger page for state (see :func:`row_dict`)."""
    return [row_dict(r, locale) for r in page.rows]
