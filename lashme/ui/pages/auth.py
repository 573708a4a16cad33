"""Sign-up and sign-in pages.  Passwords arrive in the form submit and are never kept in state."""

from __future__ import annotations

import asyncio

import reflex as rx

from lashme.accounts import auth
from lashme.credits import pricing
from lashme.errors import DomainError
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell
from lashme.ui.state import SessionState


def safe_next(value: str | None) -> str:
    """A same-site path to go to after signing in (no open redirects)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:300]
    return "/"


def _sign_up(email: str, password: str, anon_token: str) -> str:
    s = get_settings()
    with session_scope() as session:
        user = auth.sign_up(
            session,
            email=email,
            password=password,
            signup_bonus=pricing.get_prices(session).signup_bonus,
            anon_token=anon_token,
        )
        return auth.start_session(session, user_id=user.id, days=s.session_days)


def _sign_in(email: str, password: str, anon_token: str) -> str:
    s = get_settings()
    with session_scope() as session:
        user = auth.authenticate(session, email=email, password=password)
        auth.claim_anonymous_jobs(session, user_id=user.id, anon_token=anon_token)
        return auth.start_session(session, user_id=user.id, days=s.session_days)


class AuthState(SessionState):
    """Form errors and the busy flag of the auth pages."""

    error: str = ""
    busy: bool = False

    @rx.event
    def clear(self):
        """on_load: reset the form error."""
        self.error = ""
        self.busy = False

    async def _finish(self, fn, form: dict):
        email = str(form.get("email", ""))[:254]
        password = str(form.get("password", ""))[:128]
        self.busy = True
        self.error = ""
        yield
        try:
            token = await asyncio.to_thread(fn, email, password, self._ensure_anon())
        except DomainError as exc:
            self.error = self._err(exc)
            self.busy = False
            return
        self.auth_token = token
        self.busy = False
        self._refresh_user()
        yield rx.redirect(safe_next(self.router.url.query_parameters.get("next")))

    @rx.event
    async def sign_up(self, form: dict):
        """Create the account (+3 credits), sign in, claim this browser's jobs."""
        async for update in self._finish(_sign_up, form):
            yield update

    @rx.event
    async def sign_in(self, form: dict):
        """Sign in and claim this browser's anonymous jobs."""
        async for update in self._finish(_sign_in, form):
            yield update


def _form(title: str, subtitle: str, button: str, handler, switch_text: str, switch_href) -> rx.Component:
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
        )
    )
