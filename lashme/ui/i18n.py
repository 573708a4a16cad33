"""Translated text in components: ``tr("nav.gallery")`` is a Var reading the current locale's catalog.

Keys are checked against the English catalog when the page is compiled, so
a typo fails the build instead of showing an empty label.
"""

from __future__ import annotations

import reflex as rx

from lashme import i18n
from lashme.ui.state import SessionState


def tr(key: str) -> rx.Var[str]:
    """The text of ``key`` in the visitor's language (a frontend Var).

    Raises:
        KeyError: ``key`` is not in the English catalog.
    """
    if key not in i18n.catalog(i18n.DEFAULT_LOCALE):
        raise KeyError(f"message key {key!r} is missing from the catalogs")
    return SessionState.t[key].to(str)
