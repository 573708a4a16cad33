"""One page of the caller's credit ledger as table rows (credits page and dashboard)."""

from __future__ import annotations

from sqlmodel import Session

from lashme import i18n
from lashme.credits import ledger

#: kinds whose stored reason a person wrote (shown as written); the others get a translated text
HUMAN_REASON_KINDS = frozenset({"admin_adjust", "grant"})


def clamp_page(value: object, pages: int) -> int:
    """A client-sent page number as an int in ``1..pages`` (garbage, NaN or ±Infinity → 1 or the edge)."""
    try:
        page = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        page = 1
    return min(max(1, page), max(1, pages))


def ledger_page(
    session: Session, user_id: int, *, page: object, page_size: int, locale: str
) -> tuple[list[dict], int, int]:
    """Rows of ledger page ``page`` (newest first) for ``user_id``.

    Returns:
        ``(rows, page, pages)``: each row has ``id``, ``date``, ``kind``, ``delta``
        (``"+3"``, or the change of held credits), ``balance`` and ``reason``;
        ``page`` is clamped to ``1..pages``.
    """
    pages = max(1, -(-ledger.count_entries(session, user_id) // page_size))
    page = clamp_page(page, pages)
    rows = [
        {
            "id": e.id,
            "date": i18n.format_dt(e.created_at, locale, fmt="short"),
            "kind": i18n.translate(f"kind.{e.kind}", locale),
            "delta": f"{e.delta:+d}"
            if e.delta
            else (
                i18n.translate("credits.held_change", locale, n=f"{e.held_delta:+d}") if e.held_delta else "0"
            ),
            "balance": e.balance_after,
            "reason": e.reason
            if e.kind in HUMAN_REASON_KINDS
            else i18n.translate(f"reason.{e.kind}", locale),
        }
        for e in ledger.entries(session, user_id, limit=page_size, offset=(page - 1) * page_size)
    ]
    return rows, page, pages
