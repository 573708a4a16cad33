"""One paged admin list (users, audit log, jobs): the pager's vars, its Newer / Older handlers, its row.

A page state mixes in :class:`AdminPagerMixin` (``class AdminUsersState(AdminPagerMixin,
AdminState)``) and defines ``_page(move)``, which reads the list for a pager move (a refused
caller gets the turn-away events back); that read asks for :meth:`AdminPagerMixin._page_token`
and shows the answer's tokens with :meth:`AdminPagerMixin._show_page`.  The page renders
:func:`admin_pager`.  The same pattern as the signed-in ledger (:mod:`lashme.ui.components.ledger`).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from lashme.ui.components.pager import NEXT, PREV, advance, pager, shown, token_for


class AdminPagerMixin(rx.State, mixin=True):
    """The page shown of one admin list (its number, whether newer / older pages exist) and the moves.

    Mixed into a :class:`lashme.ui.admin.state.AdminState` subclass that defines
    ``_page(move)``: read and show the list for ``move``, returning the events to send
    (the turn-away for a caller who is no admin any more, a toast for a bad filter) or None.
    """

    page_no: int = 1
    has_prev: bool = False
    has_next: bool = False
    #: the pager's page tokens (backend only: the client never sends a token)
    _cursor: dict = {}

    def _page_token(self, move: str) -> str | None:
        """The page token to read for ``move`` (a :mod:`~lashme.ui.components.pager` move)."""
        return token_for(self._cursor, move)

    def _show_page(self, move: str, next_token: str | None, prev_token: str | None) -> None:
        """The page read for ``move`` is shown: keep its tokens (``next_token``/``prev_token``), number it."""
        self._cursor = advance(self._cursor, move, next_token, prev_token)
        self.page_no, self.has_prev, self.has_next = shown(self._cursor)

    def _page(self, move: str) -> Any:
        """Read and show the list for ``move``; the events to send, or None (defined by the page)."""
        raise NotImplementedError

    @rx.event
    def newer(self):
        """Show the newer rows before this page (the first page when there are none)."""
        return self._page(PREV)

    @rx.event
    def older(self):
        """Show the older rows after this page."""
        return self._page(NEXT)


def admin_pager(state: Any, pager_id: str) -> rx.Component:
    """Newer / page number / Older under an admin list.

    Args:
        state: the page state class mixing in :class:`AdminPagerMixin`.
        pager_id: DOM id of the pager row.
    """
    return pager(state.page_no, state.has_prev, state.has_next, state.newer, state.older, id=pager_id)
