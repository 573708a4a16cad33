"""Base state of every admin page: who is asking, checked against the database on every event.

Pattern for a handler (every handler is a public API; the check happens in
the service, in the same transaction as the change)::

    @rx.event
    def block(self, user_id: int):
        try:
            self._service(admin_accounts.set_blocked, int(user_id), True)
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        ...

A refused caller gets nothing: no state var is filled before the service
answered, and they are sent to ``/`` (the guard has already written the
``admin.denied`` log line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx

from lashme.app import admin
from lashme.app.admin import AdminRequired
from lashme.ui.state import SessionState

T = TypeVar("T")


class AdminState(SessionState):
    """Shared by the admin page states: the caller's super-admin flag and the guard helpers."""

    is_super: bool = False

    def _service(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run the admin service ``fn(session, caller_id, *args, **kwargs)`` through :func:`lashme.app.admin.run`.

        The caller is re-read from the sign-in cookie's server-side session
        (a visitor has no id); ``fn`` checks the role itself, in its own transaction.

        Raises:
            AdminRequired: the caller is not an admin (nothing was changed).
            DomainError: whatever ``fn`` refused.
        """
        return admin.run(self._caller(), fn, *args, **kwargs)

    def _admin_id(self, action: str) -> int | None:
        """The caller's user id when they are an admin now (and refresh ``is_super``), else None (logged)."""
        try:
            acting = admin.check(self._caller(), action)
        except AdminRequired:
            self._forget_admin_view()
            return None
        self.is_super = acting.is_super
        return acting.id

    def _forget_admin_view(self) -> None:
        """Drop whatever this tab's admin page still holds (a demoted, blocked or signed-out admin's view)."""
        self.is_super = False
        if type(self) is not AdminState:
            self.reset()  # the page state's own fields; the header's session fields are untouched

    def _turn_away(self) -> list:
        """Events for a refused caller: the page's data is dropped, then a toast and a redirect to ``/``."""
        self._forget_admin_view()
        return [rx.toast.error(self._tr("admin.forbidden")), rx.redirect("/")]

    def _open_admin_page(self, path: str) -> int | None | list:
        """Common ``on_load`` start: refresh the header, then check the role.

        Returns:
            The admin's user id, or the events to return instead (sign-in
            redirect for visitors, :meth:`_turn_away` for non-admins).
        """
        self._ensure_anon()
        signed_in = self._refresh_user().signed_in
        admin_id = self._admin_id(f"open {path}")  # logs the refusal, visitors included
        if admin_id is None:
            return self._turn_away() if signed_in else [rx.redirect(f"/login?next={path}")]
        return admin_id


__all__ = ["AdminRequired", "AdminState"]
