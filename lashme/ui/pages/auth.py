"""Sign-up and sign-in pages.  Passwords go straight to the HTTP routes; no state var holds one.

The forms post to ``/auth/sign-in`` and ``/auth/sign-up`` (:mod:`lashme.ui.web_auth`) with
``fetch`` (:func:`post_form_script`): the route checks the password, sets the HttpOnly session
cookie and answers the ``next`` path, which the page then loads in full (its new websocket
carries the cookie).  Only a refusal's message key comes back to the state (:meth:`AuthState.posted`),
shown in the user's language.  Neither the password nor the session token ever crosses the websocket.
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from lashme.app import account
from lashme.ui.i18n import early, tr
from lashme.ui.layout import page_shell
from lashme.ui.state import SessionState
from lashme.ui.web_auth import SIGN_IN_PATH, SIGN_UP_PATH

#: message keys a refused form may show (anything else shows the generic ``sessions.failed``)
SHOWN_ERRORS = ("accounts.", "auth.", "security.", "sessions.")
FAILED = "sessions.failed"
FORM_ID = "auth-form"


def post_form_script(form_id: str, query_keys: tuple[str, ...] = ("next",)) -> str:
    """A page function posting the form ``form_id`` to its ``action`` route; the answer's path is loaded.

    The body is the form's fields plus ``query_keys`` taken from the page's own query string
    (``next``, the reset link's ``token``).  Resolves to ``{"ok": true}`` once the next page is
    loading, else to ``{"error": key, "params": {...}}`` for :func:`form_error`.
    """
    return (
        "() => {"
        f"const form = document.getElementById({json.dumps(form_id)});"
        "const body = new URLSearchParams(new FormData(form));"
        "const query = new URLSearchParams(window.location.search);"
        f"for (const key of {json.dumps(list(query_keys))}) {{ if (query.has(key)) body.set(key, query.get(key)); }}"
        'return fetch(form.getAttribute("action"), {method: "POST", body, credentials: "same-origin",'
        ' cache: "no-store", headers: {Accept: "application/json"}})'
        ".then((r) => r.json()).then((j) => {"
        'const next = j && typeof j.next === "string" ? j.next : "";'
        'if (next.startsWith("/") && !next.startsWith("//")) { window.location.assign(next); return {ok: true}; }'
        f"return {{error: String((j && j.error) || {json.dumps(FAILED)}), params: (j && j.params) || {{}}}};"
        f"}}).catch(() => ({{error: {json.dumps(FAILED)}, params: {{}}}}));"
        "}"
    )


def form_error(state: SessionState, result: Any) -> str | None:
    """The message to show for a form route's answer (:func:`post_form_script`), or None when it succeeded.

    Only known message keys are translated (with their whole-number parameters, e.g. the
    minutes of a throttle); anything else the page sends becomes the generic failure.
    """
    if not isinstance(result, dict):
        return state._tr(FAILED)
    if result.get("ok") is True:
        return None
    key = str(result.get("error", ""))[:64]
    raw = result.get("params")
    params = {
        str(k)[:32]: v
        for k, v in (raw.items() if isinstance(raw, dict) else ())
        if isinstance(v, int) and not isinstance(v, bool)
    }
    return state._tr(key if key.startswith(SHOWN_ERRORS) else FAILED, **params)


class AuthState(SessionState):
    """Form errors and the busy flag of the auth pages."""

    error: str = ""
    busy: bool = False

    #: "Sign in with Google" is configured (the button shows only then)
    google: bool = False

    @rx.event
    def clear(self):
        """on_load: reset the form error (or show the one a refused Google sign-in came back with)."""
        key = str(self.router.url.query_parameters.get("error", ""))[:64]
        self.error = self._tr(key) if key.startswith(SHOWN_ERRORS) else ""
        self.busy = False
        self.google = account.google_enabled()

    @rx.event
    def start(self):
        """The form is on its way to the HTTP route: show the spinner, hide the last error."""
        self.busy, self.error = True, ""

    @rx.event
    def posted(self, result: dict):
        """The route's answer (see :func:`form_error`); on success the next page is already loading."""
        message = form_error(self, result)
        if message is not None:
            self.error, self.busy = message, False


def _submit():
    """The form's submit: the busy flag, then the post to its ``action`` route (the password never reaches the state)."""
    return [AuthState.start, rx.call_function(post_form_script(FORM_ID), callback=AuthState.posted)]


def _google_button() -> rx.Component:
    """"Sign in with Google" (a plain link to the backend route; shown only when configured)."""
    return rx.cond(
        AuthState.google,
        rx.vstack(
            rx.text(tr("auth.or"), size="2", color_scheme="gray", align="center", width="100%"),
            rx.button(
                rx.link(  # a full page load (reload_document): the backend route redirects to Google
                    rx.icon("log_in", size=18, aria_hidden="true"),
                    tr("auth.google_button"),
                    href="/auth/google/start?next=" + AuthState.router.url.query_parameters.get("next", "/"),
                    reload_document=True,
                    underline="none",
                    id="google-signin",
                ),
                as_child=True,
                variant="outline",
                color_scheme="gray",
                high_contrast=True,
                size="3",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
    )


def _form(
    title: str, subtitle: str, button: str, action: str, switch_text: str, switch_href, *extra: rx.Component
) -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(title, size="6"),
                rx.text(subtitle, color_scheme="gray", size="2"),
                rx.input(
                    name="email",
                    type="email",
                    placeholder=tr("auth.email"),
                    required=True,
                    width="100%",
                    size="3",
                    auto_complete="email",
                    id="email",
                ),
                rx.input(
                    name="password",
                    type="password",
                    placeholder=tr("auth.password"),
                    required=True,
                    width="100%",
                    size="3",
                    id="password",
                ),
                rx.cond(
                    AuthState.error != "",
                    rx.callout(
                        AuthState.error,
                        icon="triangle_alert",
                        color_scheme="red",
                        width="100%",
                        id="auth-error",
                    ),
                ),
                rx.button(
                    button, type="submit", width="100%", size="3", loading=AuthState.busy, id="auth-submit"
                ),
                *extra,
                _google_button(),
                rx.link(switch_text, href=switch_href, size="2"),
                spacing="3",
                width="100%",
            ),
            # action/method: without script (before the page is live) the browser posts the form
            # itself and the route answers with a redirect; never a GET with the password in the URL
            on_submit=_submit(),
            reset_on_submit=False,
            action=action,
            method="post",
            id=FORM_ID,
        ),
        width="100%",
        max_width="420px",
    )


def signup_page() -> rx.Component:
    """``/signup``: email + password; 3 free credits."""
    return page_shell(
        _form(
            tr("auth.signup_title"),
            early(SessionState.signup_subtitle, "=auth.signup_subtitle"),
            tr("auth.signup_button"),
            SIGN_UP_PATH,
            tr("auth.have_account"),
            "/login?next=" + AuthState.router.url.query_parameters.get("next", "/"),
            rx.text(tr("auth.signup_verify_note"), size="1", color_scheme="gray", id="signup-verify-note"),
        )
    )


def login_page() -> rx.Component:
    """``/login``."""
    return page_shell(
        _form(
            tr("auth.login_title"),
            tr("auth.login_subtitle"),
            tr("auth.login_button"),
            SIGN_IN_PATH,
            tr("auth.new_here"),
            "/signup?next=" + AuthState.router.url.query_parameters.get("next", "/"),
            rx.link(tr("auth.forgot_password"), href="/forgot-password", size="2", id="forgot-password"),
        )
    )
