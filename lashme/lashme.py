"""The Reflex app: pages, theme, and the file-serving API mounted on the backend."""

import reflex as rx

from lashme.files.files_api import build_api
from lashme.ops.logging_setup import configure as configure_logging
from lashme.ui.admin.routes import register_admin_pages
from lashme.ui.pages.auth import AuthState, login_page, signup_page
from lashme.ui.pages.credits import CheckoutReturnState, CreditsState, checkout_return_page, credits_page
from lashme.ui.pages.dashboard import DashboardState, dashboard_page
from lashme.ui.pages.gallery import GalleryState, gallery_page
from lashme.ui.pages.job import JobState, job_page
from lashme.ui.pages.not_found import not_found_page
from lashme.ui.pages.upload import UploadState, upload_page
from lashme.ui.pages.variant import VariantState, variant_page
from lashme.ui.state import SessionState

configure_logging("app", root=False)  # our loggers as JSON; Reflex and uvicorn keep their own

app = rx.App(
    api_transformer=build_api(),
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1")],
    stylesheets=["/theme.css"],
)
app.add_page(
    upload_page,
    route="/",
    title="LashMe — studio photos of your work",
    on_load=[UploadState.load_session, UploadState.reset_form],
)
app.add_page(job_page, route="/job/[job_id]", title="Your variants — LashMe", on_load=JobState.on_load)
app.add_page(
    signup_page, route="/signup", title="Sign up — LashMe", on_load=[AuthState.load_session, AuthState.clear]
)
app.add_page(
    login_page, route="/login", title="Sign in — LashMe", on_load=[AuthState.load_session, AuthState.clear]
)
app.add_page(credits_page, route="/credits", title="Credits — LashMe", on_load=CreditsState.on_load)
app.add_page(
    checkout_return_page,
    route="/credits/success",
    title="Payment — LashMe",
    on_load=CheckoutReturnState.on_load,
)
app.add_page(gallery_page, route="/gallery", title="Gallery — LashMe", on_load=GalleryState.on_load)
app.add_page(
    variant_page, route="/variant/[variant_id]", title="Variant — LashMe", on_load=VariantState.on_load
)
app.add_page(dashboard_page, route="/dashboard", title="Dashboard — LashMe", on_load=DashboardState.on_load)
app.add_page(not_found_page, route="404", title="Not found — LashMe", on_load=SessionState.load_session)
register_admin_pages(app)
