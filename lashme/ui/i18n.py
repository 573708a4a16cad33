"""Translated text in components: ``tr("nav.gallery")`` is a Var reading the current locale's catalog.

Keys are checked against the English catalog when the page is compiled, so
a typo fails the build instead of showing an empty label.

Before the session state arrives, ``tr`` reads ``globalThis.__lmT``: the texts of the page's
messages in the visitor's language, put there by the server (``lashme.i18n.html``) when that
language is not the one the pages were prerendered in.  So React hydrates the words the HTML
already showed, and no text flips language while the page loads.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.vars.base import Var, VarData

from lashme import i18n
from lashme.i18n.html.body_text import prerendered_texts
from lashme.ui.state import SessionState


def tr(key: str) -> rx.Var[str]:
    """The text of ``key`` in the visitor's language (a frontend Var).

    Raises:
        KeyError: ``key`` is not in the English catalog.
    """
    if key not in i18n.catalog(i18n.SOURCE_LOCALE):
        raise KeyError(f"message key {key!r} is missing from the catalogs")
    text = SessionState.t[key].to(str)
    early = Var(
        _js_expr=f"(globalThis.__lmT?.[{json.dumps(key)}] ?? {text})",
        _var_type=str,
        _var_data=VarData.merge(text._get_all_var_data()),
    )
    return rx.cond(SessionState.session_known | rx.State.is_hydrated, text, early).to(str)


def early(text: rx.Var[str], key: str) -> rx.Var[str]:
    """A state-made text (a computed var) that reads ``globalThis.__lmT[key]`` until the session is known.

    As :func:`tr` does for catalog messages: the page is prerendered with ``text``'s default value
    in the build language; for a visitor of another language the server swaps that text and puts
    ``key``'s text in hers into ``__lmT`` (``lashme.i18n.html.body_text.prerendered_texts``), so hydration
    renders the same words and the first paint carries no Russian for an English visitor.

    Raises:
        KeyError: ``key`` is not one of the prerendered texts.
    """
    if key not in prerendered_texts(i18n.SOURCE_LOCALE):
        raise KeyError(f"{key!r} is not in lashme.i18n.html.body_text.prerendered_texts")
    text = text.to(str)
    before = Var(
        _js_expr=f"(globalThis.__lmT?.[{json.dumps(key)}] ?? {text})",
        _var_type=str,
        _var_data=VarData.merge(text._get_all_var_data()),
    )
    return rx.cond(SessionState.session_known | rx.State.is_hydrated, text, before).to(str)
