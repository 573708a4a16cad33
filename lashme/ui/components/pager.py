"""The one pager of every paged list: Newer / page number / Older, driven by page tokens.

Lists page with :func:`lashme.app.paging.paginate` (keyset pages, opaque tokens).  A page state
keeps the tokens in one backend-only var (a :data:`Cursor` dict; the client never sends a
token or a page number, so there is nothing to validate) and shows three public vars the
:func:`pager` renders.  The pattern in a state::

    _cursor: dict = {}
    page_no: int = 1
    has_prev: bool = False
    has_next: bool = False

    def _load(self, move: str = FIRST) -> None:
        page = self._service(admin_users.search_users, self.query, token=token_for(self._cursor, move))
        self._cursor = advance(self._cursor, move, page.next_token, page.prev_token)
        self.page_no, self.has_prev, self.has_next = shown(self._cursor)

    @rx.event
    def older(self):
        self._load(NEXT)
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from lashme.ui.i18n import tr

#: the moves a list can make: back to its first page, re-read the page shown, one page on or back
FIRST, SAME, NEXT, PREV = "first", "same", "next", "prev"
#: ``{"token": shown page's token, "next": …, "prev": …, "number": 1-based page number}`` ("" = none)
Cursor = dict[str, Any]


def token_for(cursor: Cursor, move: str) -> str | None:
    """The page token to fetch for ``move`` from the page ``cursor`` shows (None = the first page)."""
    key = {SAME: "token", NEXT: "next", PREV: "prev"}.get(move)
    return (cursor.get(key) or None) if key else None


def advance(cursor: Cursor, move: str, next_token: str | None, prev_token: str | None) -> Cursor:
    """The cursor after a page was fetched for ``move``; ``next_token``/``prev_token`` are that page's.

    The page number counts the moves since the first page (a list has no fixed page numbers:
    rows come and go); a page with no previous one is page 1.
    """
    number = int(cursor.get("number") or 1)
    number = {SAME: number, NEXT: number + 1, PREV: number - 1}.get(move, 1)
    if not prev_token:
        number = 1
    return {
        "token": token_for(cursor, move) or "",
        "next": next_token or "",
        "prev": prev_token or "",
        "number": max(1, number),
    }


def shown(cursor: Cursor) -> tuple[int, bool, bool]:
    """``(page_no, has_prev, has_next)`` of a cursor, for the state's public vars."""
    return max(1, int(cursor.get("number") or 1)), bool(cursor.get("prev")), bool(cursor.get("next"))


def pager(page_no: rx.Var, has_prev: rx.Var, has_next: rx.Var, newer, older, **props: Any) -> rx.Component:
    """Newer / page number / Older buttons (44 px tap targets) for a newest-first list.

    Args:
        page_no: the state's 1-based page number var.
        has_prev: the state var telling a newer page exists.
        has_next: the state var telling an older page exists.
        newer: event handler showing the newer page (the state's ``PREV`` move).
        older: event handler showing the older page (the state's ``NEXT`` move).
        props: more props for the row (``id`` …).
    """
    tap = {"min_height": "44px", "min_width": "44px", "variant": "soft"}
    return rx.hstack(
        rx.button(tr("credits.newer"), on_click=newer, disabled=~has_prev, **tap),
        rx.text(page_no, size="2", aria_live="polite"),
        rx.button(tr("credits.older"), on_click=older, disabled=~has_next, **tap),
        align="center",
        spacing="3",
        **props,
    )
