"""``/admin/jobs/[job_id]`` (placeholder until the section is built)."""

from __future__ import annotations

import reflex as rx

from lashme.ui.admin.layout import admin_shell
from lashme.ui.admin.state import AdminState


class AdminJobState(AdminState):
    """Placeholder state."""

    @rx.event
    def on_load(self):
        """Admins only."""
        refused = self._open_admin_page("/admin/jobs")
        if isinstance(refused, list):
            return refused
        return None


ON_LOAD = AdminJobState.on_load


def page() -> rx.Component:
    """Placeholder body."""
    return admin_shell("admin.nav.jobs")
