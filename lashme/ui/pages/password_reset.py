"""``/forgot-password`` (ask for a link) and ``/reset-password?token=`` (set a new password).

The request form answers the same whatever address is typed (no hint whether an account
exists).  The reset page checks the link on load (nothing spent), then posts the new password
and the link's token to ``/auth/reset-password`` (:mod:`lashme.ui.web_auth`): every other
session of the account ends and this browser is signed in through the HttpOnly cookie.
Passwords and tokens are never kept in state; the new password never crosses the websocket.
"""

from __future__ import annotations

import reflex as rx

from lashme.app import account, recovery
from lashme.errors import DomainError
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell
from lashme.ui.pages.auth import form_error, post_form_script
from lashme.ui.state import SessionState
from lashme.ui.web_auth import RESET_PATH

RESET_FORM_ID = "reset-form"


class PasswordResetState(SessionState):
    """The two forms' flags: sent, link state, error, busy."""

    sent: bool = False
    #: "checking", "ok" or "invalid" — the reset link as checked on load
    link: str = "checking"
    error: str = ""
    busy: bool = False

    def _origin(self) -> str:
        try:
            return self.router.url.origin
        except AttributeError:
            return ""

    def _token(self) -> str:
        return str(self.router.url.query_parameters.get("token", ""))[:128]

    @rx.event
    def load_request(self):
        """on_load of ``/forgot-password``: a clean form."""
        self._ensure_anon()
        self._refresh_user()
        self.sent, self.error, self.busy = False, "", False

    @rx.event
    async def request_link(self, form: dict):
        """Ask for a reset link for the typed address; the answer does not depend on whether it has an account."""
        email = str(form.get("email", ""))[: account.MAX_EMAIL]
        self.busy, self.error = True, ""
        yield
        try:
            await self._run(recovery.request_password_reset, email, origin=self._origin())
        except DomainError as exc:
            self.error = self._err(exc)
            self.busy = False
            return
        self.busy, self.sent = False, True

    @rx.event
    async def load_reset(self):
        """on_load of ``/reset-password``: check whether the link still works (nothing is spent)."""
        self._ensure_anon()
        self._refresh_user()
        self.error, self.busy, self.link = "", False, "checking"
        token = self._token()
        yield
        ok = bool(token) and await self._run(recovery.reset_link_valid, token)
        self.link = "ok" if ok else "invalid"

    @rx.event
    def start_reset(self):
        """The new password is on its way to ``/auth/reset-password``: spinner on, last error off."""
        self.busy, self.error = True, ""

    @rx.event
    def reset_posted(self, result: dict):
        """The route's answer: on success the dashboard is already loading; else the message (a spent link: "invalid")."""
        message = form_error(self, result)
        if message is None:
            return
        self.error, self.busy = message, False
        if isinstance(result, dict) and result.get("error") == "accounts.link_invalid":
            self.link = "invalid"


def _error() -> rx.Component:
    return rx.cond(
        PasswordResetState.error != "",
        rx.callout(
            PasswordResetState.error, icon="triangle_alert", color_scheme="red", width="100%", id="reset-error"
        ),
    )


def _card(*children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(*children, spacing="3", width="100%"), width="100%", max_width="420px")


def forgot_password_page() -> rx.Component:
    """``/forgot-password``: the address → "if it has an account, a link is on its way"."""
    return page_shell(
        _card(
            rx.heading(tr("reset.request_title"), size="6", as_="h1"),
            rx.cond(
                PasswordResetState.sent,
                rx.callout(tr("reset.request_sent"), icon="mail_check", color_scheme="green", id="reset-sent"),
                rx.form(
                    rx.vstack(
                        rx.text(tr("reset.request_subtitle"), size="2", color_scheme="gray"),
                        rx.el.label(tr("auth.email"), html_for="reset-email", class_name="rt-Text rt-r-size-2"),
                        rx.input(
                            name="email",
                            type="email",
                            required=True,
                            width="100%",
                            size="3",
                            auto_complete="email",
                            id="reset-email",
                        ),
                        _error(),
                        rx.button(
                            tr("reset.request_button"),
                            type="submit",
                            width="100%",
                            size="3",
                            loading=PasswordResetState.busy,
                            id="reset-request-submit",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=PasswordResetState.request_link,
                    reset_on_submit=False,
                ),
            ),
            rx.link(tr("reset.back_to_signin"), href="/login", size="2", id="reset-back", class_name="lm-touch"),
        )
    )


def reset_password_page() -> rx.Component:
    """``/reset-password?token=``: the new password, or "the link does not work" with a way to get another."""
    return page_shell(
        _card(
            rx.match(
                PasswordResetState.link,
                (
                    "ok",
                    rx.form(
                        rx.vstack(
                            rx.heading(tr("reset.new_title"), size="6", as_="h1"),
                            rx.text(tr("reset.new_subtitle"), size="2", color_scheme="gray"),
                            rx.el.label(
                                tr("reset.new_password"), html_for="new-password", class_name="rt-Text rt-r-size-2"
                            ),
                            rx.input(
                                name="password",
                                type="password",
                                required=True,
                                width="100%",
                                size="3",
                                auto_complete="new-password",
                                id="new-password",
                            ),
                            _error(),
                            rx.button(
                                tr("reset.new_button"),
                                type="submit",
                                width="100%",
                                size="3",
                                loading=PasswordResetState.busy,
                                id="reset-submit",
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        on_submit=[
                            PasswordResetState.start_reset,
                            rx.call_function(
                                post_form_script(RESET_FORM_ID, ("token",)),
                                callback=PasswordResetState.reset_posted,
                            ),
                        ],
                        reset_on_submit=False,
                        action=RESET_PATH,
                        method="post",
                        id=RESET_FORM_ID,
                    ),
                ),
                (
                    "invalid",
                    rx.vstack(
                        rx.heading(tr("reset.link_invalid_title"), size="6", as_="h1"),
                        rx.callout(
                            tr("accounts.link_invalid"), icon="triangle_alert", color_scheme="red", id="reset-invalid"
                        ),
                        rx.link(tr("reset.request_again"), href="/forgot-password", id="reset-again"),
                        spacing="3",
                        width="100%",
                    ),
                ),
                rx.hstack(rx.spinner(), rx.text(tr("verify.checking"), size="2"), align="center"),
            ),
        )
    )
