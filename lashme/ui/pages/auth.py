"""Sign-up and sign-in pages.  Passwords arrive in the form submit and are never kept in state."""

from __future__ import annotations

import reflex as rx

from lashme.app import account
from lashme.errors import DomainError
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell
from lashme.ui.state import SessionState


def safe_next(value: str | None) -> str:
    """A same-site path to go to after signing in (no open redirects)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:300]
    return "/"


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
        self.error = self._tr(key) if key.startswith(("accounts.", "auth.", "security.")) else ""
        self.busy = False
        self.google = account.google_enabled()

    async def _finish(self, fn, form: dict):
        email = str(form.get("email", ""))[: account.MAX_EMAIL]
        password = str(form.get("password", ""))[: account.MAX_PASSWORD]
        self.busy = True
        self.error = ""
        self._ensure_anon()
        yield
        extra = {"origin": self.router.url.origin} if fn is account.sign_up else {}
        try:
            signed_in = await self._run(fn, email=email, password=password, **extra)
        except DomainError as exc:
            self.error = self._err(exc)
            self.busy = False
            return
        self.auth_token = signed_in.token
        self.busy = False
        self._refresh_user()
        yield rx.redirect(safe_next(self.router.url.query_parameters.get("next")))

    @rx.event
    async def sign_up(self, form: dict):
        """Create the account, sign in, claim this browser's jobs; the credits come with the emailed link."""
        async for update in self._finish(account.sign_up, form):
            yield update

    @rx.event
    async def sign_in(self, form: dict):
        """Sign in and claim this browser's anonymous jobs."""
        async for update in self._finish(account.sign_in, form):
            yield update


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
    title: str, subtitle: str, button: str, handler, switch_text: str, switch_href, *extra: rx.Component
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
            on_submit=handler,
            reset_on_submit=False,
        ),
        width="100%",
        max_width="420px",
    )


def signup_page() -> rx.Component:
    """``/signup``: email + password; 3 free credits."""
    return page_shell(
        _form(
            tr("auth.signup_title"),
            SessionState.signup_subtitle,
            tr("auth.signup_button"),
            AuthState.sign_up,
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
            AuthState.sign_in,
            tr("auth.new_here"),
            "/signup?next=" + AuthState.router.url.query_parameters.get("next", "/"),
            rx.link(tr("auth.forgot_password"), href="/forgot-password", size="2", id="forgot-password"),
        )
    )
