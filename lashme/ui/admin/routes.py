"""The admin routes: one module per page under ``lashme.ui.admin``, each with ``page()`` and ``ON_LOAD``."""

from __future__ import annotations

import importlib

import reflex as rx

#: (route, module under ``lashme.ui.admin``, page name: the tab title is the message ``page.<name>.title``)
ADMIN_PAGES = (
    ("/admin", "home", "admin"),
    ("/admin/users", "users", "admin_users"),
    ("/admin/users/[user_id]", "user_detail", "admin_user_detail"),
    ("/admin/jobs", "jobs", "admin_jobs"),
    ("/admin/jobs/[job_id]", "job_detail", "admin_job_detail"),
    ("/admin/presets", "presets", "admin_presets"),
    ("/admin/pricing", "pricing", "admin_pricing"),
    ("/admin/payments", "payments", "admin_payments"),
    ("/admin/stats", "stats", "admin_stats"),
    ("/admin/audit", "audit", "admin_audit"),
    ("/admin/queue", "queue", "admin_queue"),
)


def register_admin_pages(app: rx.App) -> None:
    """Add every admin page to ``app`` (each page's ``on_load`` checks the role on the server).

    Tab titles are in the visitor's language: ``lashme.i18n.html`` writes them into the served HTML
    (by the same page names) and this Var keeps them after the page has loaded.
    """
    from lashme.ui.i18n import tr

    for route, module_name, name in ADMIN_PAGES:
        module = importlib.import_module(f"lashme.ui.admin.{module_name}")
        title = tr(f"page.{name}.title")  # hydrates the served title (``__lmT``), then follows the session
        app.add_page(module.page, route=route, title=title, on_load=module.ON_LOAD)


def admin_states() -> list[type]:
    """Every admin page's state class (for the handler tests that call each handler as a non-admin)."""
    from lashme.ui.admin.state import AdminState

    found: list[type] = []
    for _, module_name, _ in ADMIN_PAGES:
        importlib.import_module(f"lashme.ui.admin.{module_name}")
    stack = list(AdminState.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found
