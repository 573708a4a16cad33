"""``/admin/users/[user_id]`` (placeholder until the section is built)."""

from __future__ import annotations

import reflex as rx

from lashme.ui.admin.layout import admin_shell
from lashme.ui.admin.state import AdminState


class AdminUserState(AdminState):
    """Placeholder state."""

    @rx.event
    def on_load(self):
        """Admins only."""
        refused = self._open_admin_page("/admin/users")
        if isinstance(refused, list):
            return refused
        return None


ON_LOAD = AdminUserState.on_load


def page() -> rx.Component:
    """Placeholder body."""
    return admin_shell("admin.nav.users")
