"""The signed-in user's credit ledger on a page: one paged table, shared by ``/credits`` and ``/dashboard``.

A page state that shows the ledger mixes in :class:`LedgerMixin`
(``class CreditsState(LedgerMixin, SessionState)``), which keeps the ledger's vars and its
Newer / Older handlers; the page renders :func:`ledger_table` and :func:`ledger_pager`.
The page itself reads the ledger (with its other data) in ``_load(caller, move)``, asking for
the page token :meth:`LedgerMixin._ledger_token` gives and showing the answer with
:meth:`LedgerMixin._show_ledger`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx

from lashme.app.credits import LedgerPage
from lashme.ui.components.pager import NEXT, PREV, advance, pager, shown, token_for
from lashme.ui.components.table import scroll_table
from lashme.ui.i18n import tr
from lashme.ui.ledger_rows import page_rows

#: the ledger's columns: (header key, row key) — rows are :func:`lashme.ui.ledger_rows.row_dict`'s
COLUMNS = (
    ("col.date", "date"),
    ("col.what", "kind"),
    ("col.change", "delta"),
    ("col.balance", "balance"),
    ("col.reason", "reason"),
)


class LedgerMixin(rx.State, mixin=True):
    """One page of the caller's ledger and the pager's handlers.

    Mixed into a :class:`lashme.ui.state.SessionState` subclass that defines
    ``_load(caller, move)`` (reads the page's data, ledger included) and sets
    :attr:`LEDGER_LOGIN`, where a visitor who pages is sent to sign in.
    """

    #: the rows of the page shown (:func:`lashme.ui.ledger_rows.page_rows`)
    ledger_rows: list[dict] = []
    ledger_page_no: int = 1
    ledger_has_prev: bool = False
    ledger_has_next: bool = False
    #: the ledger pager's page tokens (backend only: the client never sends a token)
    _ledger_cursor: dict = {}
    #: where a signed-out caller of the pager goes (``/login?next=<this page>``)
    LEDGER_LOGIN: ClassVar[str] = "/login"

    def _ledger_token(self, move: str) -> str | None:
        """The page token to read for ``move`` (a :mod:`~lashme.ui.components.pager` move)."""
        return token_for(self._ledger_cursor, move)

    def _show_ledger(self, page: LedgerPage, move: str, locale: str) -> None:
        """Show ``page``, read for ``move``, with its rows in ``locale``."""
        self.ledger_rows = page_rows(page, locale)
        self._ledger_cursor = advance(self._ledger_cursor, move, page.next_page_token, page.prev_page_token)
        self.ledger_page_no, self.ledger_has_prev, self.ledger_has_next = shown(self._ledger_cursor)

    @rx.event
    def newer_ledger(self):
        """Show the newer ledger entries before this page (the newest when there are none)."""
        return self._move_ledger(PREV)

    @rx.event
    def older_ledger(self):
        """Show the older ledger entries after this page."""
        return self._move_ledger(NEXT)

    def _move_ledger(self, move: str):
        caller = self._caller()
        if not caller.signed_in:
            return rx.redirect(self.LEDGER_LOGIN)
        self._load(caller, move)
        return None


def ledger_table(state: Any, table_id: str, **props: Any) -> rx.Component:
    """The ledger page's rows as a table (date, what, change, balance, reason).

    Args:
        state: the page state class mixing in :class:`LedgerMixin`.
        table_id: DOM id of the ``<table>``.
        props: more props for the scrolling box (see :func:`~lashme.ui.components.table.scroll_table`).
    """
    return scroll_table(
        [tr(header) for header, _ in COLUMNS],
        state.ledger_rows,
        [lambda r, key=key: r[key] for _, key in COLUMNS],
        table_id,
        **props,
    )


def ledger_pager(state: Any) -> rx.Component:
    """Newer / page number / Older under :func:`ledger_table` (``id="ledger-pager"``)."""
    return pager(
        state.ledger_page_no,
        state.ledger_has_prev,
        state.ledger_has_next,
        state.newer_ledger,
        state.older_ledger,
        id="ledger-pager",
    )
