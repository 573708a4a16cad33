"""Which page a request path is, and that page's title and description in a language (from the catalogs)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from lashme import i18n

#: ``(path regex, page name)``, first match wins; the name picks ``page.<name>.title``.
PAGE_ROUTES: tuple[tuple[str, str], ...] = (
    (r"/", "landing"),
    (r"/upload", "upload"),
    (r"/job/[^/]+", "job"),
    (r"/variant/[^/]+", "variant"),
    (r"/gallery", "gallery"),
    (r"/dashboard", "dashboard"),
    (r"/credits/success", "payment"),
    (r"/credits", "credits"),
    (r"/login", "login"),
    (r"/signup", "signup"),
    (r"/forgot-password", "forgot"),
    (r"/reset-password", "reset"),
    (r"/verify-email", "verify"),
    (r"/account", "account"),
    (r"/admin/users/[^/]+", "admin_user_detail"),
    (r"/admin/users", "admin_users"),
    (r"/admin/jobs/[^/]+", "admin_job_detail"),
    (r"/admin/jobs", "admin_jobs"),
    (r"/admin/presets", "admin_presets"),
    (r"/admin/pricing", "admin_pricing"),
    (r"/admin/payments", "admin_payments"),
    (r"/admin/stats", "admin_stats"),
    (r"/admin/audit", "admin_audit"),
    (r"/admin/queue", "admin_queue"),
    (r"/admin(/.*)?", "admin"),
    (r"/terms", "terms"),
    (r"/privacy", "privacy"),
    (r"/contacts", "contacts"),
    (r"/404(\.html)?", "not_found"),
)


def page_name(path: str, routes: Iterable[tuple[str, str]] = PAGE_ROUTES) -> str:
    """The page name for a request path (``"/job/abc"`` → ``"job"``), ``"default"`` when unknown."""
    path = "/" + path.strip("/")
    for pattern, name in routes:
        if re.fullmatch(pattern, path):
            return name
    return "default"


def page_texts(name: str, locale: str) -> tuple[str, str]:
    """``(title, description)`` of page ``name`` in ``locale`` (``page.default.*`` fills gaps)."""
    table = i18n.catalog(locale)
    title = table.get(f"page.{name}.title") or table.get("page.default.title") or "LashMe"
    description = table.get(f"page.{name}.description") or table.get("page.default.description") or ""
    return title, description
