"""The Reflex app: pages, theme, and the file-serving API mounted on the backend."""

import asyncio

import reflex as rx

from lashme.api.main import PREFIX as API_PREFIX
from lashme.api.main import build as build_rest_api
from lashme.app import landing
from lashme.files.files_api import build_api
from lashme.i18n.html.middleware import localized_html
from lashme.ops import mail
from lashme.ops.http.guard import protect
from lashme.ops.logging_setup import configure as configure_logging
from lashme.ui.admin.routes import register_admin_pages
from lashme.ui.i18n import tr
from lashme.ui.pages.account import AccountState, account_page
from lashme.ui.pages.auth import AuthState, login_page, signup_page
from lashme.ui.pages.credits import CheckoutReturnState, CreditsState, checkout_return_page, credits_page
from lashme.ui.pages.dashboard import DashboardState, dashboard_page
from lashme.ui.pages.gallery import GalleryState, gallery_page
from lashme.ui.pages.job import JobState, job_page
from lashme.ui.pages.landing import LandingState, landing_page
from lashme.ui.pages.legal import contacts_page, privacy_page, terms_page
from lashme.ui.pages.not_found import not_found_page
from lashme.ui.pages.password_reset import PasswordResetState, forgot_password_page, reset_password_page
from lashme.ui.pages.upload import UploadState, upload_page
from lashme.ui.pages.variant import variant_page
from lashme.ui.pages.variant_state import VariantState
from lashme.ui.pages.verify_email import VerifyEmailState, verify_email_page
from lashme.ui.state import SessionState
from lashme.ui.web_auth import ROUTES as WEB_AUTH_ROUTES

configure_logging("app", root=False)  # our loggers as JSON; Reflex and uvicorn keep their own


def _title(name: str) -> rx.Var[str]:
    """Page ``name``'s title in the visitor's language (``page.<name>.title``).

    The built HTML carries it in the build's language; ``lashme.i18n.html`` rewrites it per request
    (and ``<html lang>``), and puts the title's text into ``globalThis.__lmT``: :func:`tr` reads it
    there until the session is known, so hydration renders the same title the HTML carries (a
    mismatch would make React re-render the whole document, dropping ``lang`` and ``data-lm-auth``).
    """
    return tr(f"page.{name}.title")


backend = build_api()
backend.router.routes.extend(WEB_AUTH_ROUTES)  # /auth/google/start and /callback (lashme.ui.web_auth)
backend.mount(API_PREFIX, build_rest_api())  # REST API v1 (lashme.api), before Reflex's catch-all mount

app = rx.App(
    # protect wraps everything the backend serves (pages too, in --single-port mode): origin checks,
    # upload throttle and body caps before a byte is read, security headers (lashme.ops.http.guard)
    api_transformer=[backend, protect, localized_html],  # localized_html: <html lang>, <title> per visitor
    head_components=[
        rx.el.meta(name="viewport", content="width=device-width, initial-scale=1"),
        rx.el.meta(name="theme-color", content="#c7235a"),
        rx.el.link(rel="icon", href="/favicon.ico", sizes="48x48"),
        rx.el.link(rel="apple-touch-icon", href="/apple-touch-icon.png"),
        rx.el.link(rel="manifest", href="/manifest.webmanifest"),
        # the page's font subset is preloaded per request (lashme.i18n.html.first_paint.FONT_PRELOAD)
    ],
    stylesheets=["/theme.css"],
)
# the pages whose handlers the daily limit may refuse (upload: "/" and "/upload"; retry: the job
# page and the dashboard) learn the browser's time zone on load (SessionState.learn_time_zone): the
# refusal says when the limit resets on the reader's clock
app.add_page(
    landing_page,
    route="/",
    title=_title("landing"),
    description="A selling photo of lashes, nails and brows in 30 seconds: better light and background.",
    on_load=[LandingState.on_load, UploadState.reset_form, SessionState.learn_time_zone],
)
app.add_page(
    upload_page,
    route="/upload",
    title=_title("upload"),
    on_load=[UploadState.load_session, UploadState.reset_form, SessionState.learn_time_zone],
)
app.add_page(terms_page, route="/terms", title=_title("terms"), on_load=SessionState.load_session)
app.add_page(privacy_page, route="/privacy", title=_title("privacy"), on_load=SessionState.load_session)
app.add_page(contacts_page, route="/contacts", title=_title("contacts"), on_load=SessionState.load_session)
app.add_page(
    job_page,
    route="/job/[job_id]",
    title=_title("job"),
    on_load=[JobState.on_load, SessionState.learn_time_zone],
)
app.add_page(
    signup_page, route="/signup", title=_title("signup"), on_load=[AuthState.load_session, AuthState.clear]
)
app.add_page(
    login_page, route="/login", title=_title("login"), on_load=[AuthState.load_session, AuthState.clear]
)
app.add_page(
    forgot_password_page,
    route="/forgot-password",
    title=_title("forgot"),
    on_load=PasswordResetState.load_request,
)
app.add_page(
    reset_password_page, route="/reset-password", title=_title("reset"), on_load=PasswordResetState.load_reset
)
app.add_page(
    verify_email_page, route="/verify-email", title=_title("verify"), on_load=VerifyEmailState.on_load
)
app.add_page(credits_page, route="/credits", title=_title("credits"), on_load=CreditsState.on_load)
app.add_page(
    checkout_return_page,
    route="/credits/success",
    title=_title("payment"),
    on_load=CheckoutReturnState.on_load,
)
app.add_page(gallery_page, route="/gallery", title=_title("gallery"), on_load=GalleryState.on_load)
app.add_page(
    variant_page, route="/variant/[variant_id]", title=_title("variant"), on_load=VariantState.on_load
)
app.add_page(
    dashboard_page,
    route="/dashboard",
    title=_title("dashboard"),
    on_load=[DashboardState.on_load, SessionState.learn_time_zone],
)
app.add_page(account_page, route="/account", title=_title("account"), on_load=AccountState.on_load)
app.add_page(not_found_page, route="404", title=_title("not_found"), on_load=SessionState.load_session)
register_admin_pages(app)


async def _warm_landing_examples() -> None:
    """Make the landing's before/after examples at start-up (off the event loop) if they are missing."""
    await asyncio.to_thread(landing.warm_examples)


app.register_lifespan_task(_warm_landing_examples)


async def _announce_mail() -> None:
    """Say in the log where account emails go (an SMTP server, or the local outbox folder)."""
    mail.announce()


app.register_lifespan_task(_announce_mail)
