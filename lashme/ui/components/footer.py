"""The site footer: tagline, terms, privacy, contacts (landing and the legal pages)."""

from __future__ import annotations

import reflex as rx

from lashme.ui.i18n import tr

LINKS = (
    ("/terms", "landing.footer.terms", "footer-terms"),
    ("/privacy", "landing.footer.privacy", "footer-privacy"),
    ("/contacts", "landing.footer.contacts", "footer-contacts"),
)


def site_footer() -> rx.Component:
    """``<footer>`` with the brand line and the links to the legal pages (44 px tall tap targets)."""
    return rx.el.footer(
        rx.el.div(
            rx.el.p(tr("landing.footer.tagline"), class_name="lm-lead"),
            rx.el.nav(
                *[rx.link(tr(key), href=href, id=link_id) for href, key, link_id in LINKS],
                aria_label=tr("landing.footer.contacts"),
            ),
            rx.el.small(tr("landing.footer.copyright")),
            class_name="lm-footer-inner",
        ),
        class_name="lm-footer",
        id="footer",
    )
