"""``/terms``, ``/privacy``, ``/contacts``: short plain-language texts (ru and en, from the catalogs)."""

from __future__ import annotations

import reflex as rx

from lashme.ui.components.footer import site_footer
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell


def _legal(
    page_id: str, title_key: str, *paragraph_keys: str, extra: rx.Component | None = None
) -> rx.Component:
    return page_shell(
        rx.el.article(
            rx.el.h1(tr(title_key)),
            *[rx.el.p(tr(key)) for key in paragraph_keys],
            *([extra] if extra is not None else []),
            rx.link(tr("legal.back"), href="/", id="legal-back"),
            class_name="lm-legal",
            id=page_id,
        ),
        footer=site_footer(),
    )


def terms_page() -> rx.Component:
    """Terms of use."""
    return _legal(
        "terms", "legal.terms.title", "legal.terms.p1", "legal.terms.p2", "legal.terms.p3", "legal.terms.p4"
    )


def privacy_page() -> rx.Component:
    """What we keep, for how long, and who sees it."""
    return _legal(
        "privacy",
        "legal.privacy.title",
        "legal.privacy.p1",
        "legal.privacy.p2",
        "legal.privacy.p3",
        "legal.privacy.p4",
    )


def contacts_page() -> rx.Component:
    """How to reach us."""
    email = tr("legal.contacts.email")
    return _legal(
        "contacts",
        "legal.contacts.title",
        "legal.contacts.p1",
        extra=rx.el.p(rx.el.a(email, href="mailto:" + email, id="contact-email")),
    )
