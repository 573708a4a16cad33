"""``/verify-email?token=``: confirm the address from the emailed link (grants the sign-up bonus once).

Opens in whatever browser the mail app uses; it confirms the address but signs nobody in.
"""

from __future__ import annotations

import reflex as rx

from lashme.app import recovery
from lashme.errors import DomainError
from lashme.ui.components.verify_banner import VerifyBannerState
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell
from lashme.ui.state import SessionState


class VerifyEmailState(SessionState):
    """The outcome of the link: ``checking``, ``ok`` or ``invalid``, and the texts to show."""

    outcome: str = "checking"
    message: str = ""
    bonus_text: str = ""

    @rx.event
    async def on_load(self):
        """Spend the link once; refresh the header (the balance grows when this browser is the owner's)."""
        self._ensure_anon()
        self._refresh_user()
        self.outcome, self.message, self.bonus_text = "checking", "", ""
        token = str(self.router.url.query_parameters.get("token", ""))[:128]
        yield
        try:
            done = await self._run(recovery.verify_email, token)
        except DomainError as exc:
            self.outcome, self.message = "invalid", self._err(exc)
            return
        self.outcome = "ok"
        self.message = self._tr("verify.ok_text", email=done.email)
        self.bonus_text = self._tr("verify.bonus", bonus=done.bonus) if done.bonus else ""
        self._refresh_user()
        banner = await self.get_state(VerifyBannerState)
        banner.unverified = False


def verify_email_page() -> rx.Component:
    """``/verify-email``: "Email confirmed" (+ credits added) or "the link does not work"."""
    return page_shell(
        rx.card(
            rx.match(
                VerifyEmailState.outcome,
                (
                    "ok",
                    rx.vstack(
                        rx.heading(tr("verify.ok_title"), size="6", as_="h1"),
                        rx.callout(VerifyEmailState.message, icon="circle_check", color_scheme="green", id="verify-ok"),
                        rx.cond(VerifyEmailState.bonus_text != "", rx.text(VerifyEmailState.bonus_text, id="verify-bonus")),
                        rx.button(
                            rx.link(tr("verify.continue"), href="/dashboard", underline="none", id="verify-continue"),
                            as_child=True,
                            size="3",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                ),
                (
                    "invalid",
                    rx.vstack(
                        rx.heading(tr("verify.failed_title"), size="6", as_="h1"),
                        rx.callout(VerifyEmailState.message, icon="triangle_alert", color_scheme="red", id="verify-invalid"),
                        spacing="3",
                        width="100%",
                    ),
                ),
                rx.hstack(rx.spinner(), rx.text(tr("verify.checking"), size="2"), align="center"),
            ),
            width="100%",
            max_width="420px",
        )
    )
