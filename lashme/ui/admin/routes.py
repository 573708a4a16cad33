"""The admin routes: one module per page under ``lashme.ui.admin``, each with ``page()`` and ``ON_LOAD``."""

from __future__ import annotations

import importlib

import reflex as rx

#: (route, module under ``lashme.ui.admin``, browser tab title)
ADMIN_PAGES = (
    ("/admin", "home", "Admin — LashMe"),
    ("/admin/users", "users", "Users — LashMe admin"),
    ("/admin/users/[user_id]", "user_detail", "User — LashMe admin"),
    ("/admin/jobs", "jobs", "Jobs — LashMe admin"),
    ("/admin/jobs/[job_id]", "job_detail", "Job — LashMe admin"),
    ("/admin/presets", "presets", "Presets — LashMe admin"),
    ("/admin/pricing", "pricing", "Pricing — LashMe admin"),
    ("/admin/payments", "payments", "Payments — LashMe admin"),
    ("/admin/stats", "stats", "Stats — LashMe admin"),
    ("/admin/audit", "audit", "Audit log — LashMe admin"),
    ("/admin/queue", "queue", "Queue — LashMe admin"),
)


def register_admin_pages(app: rx.App) -> None:
    """Add every admin page to ``app`` (each page's ``on_load`` checks the role on the server)."""
    for route, module_name, title in ADMIN_PAGES:
        module = importlib.import_module(f"lashme.ui.admin.{module_name}")
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
