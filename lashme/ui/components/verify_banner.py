"""The "confirm your email" banner a signed-in master sees until she has confirmed her address.

Self-contained: it asks :func:`lashme.app.recovery.status` when it mounts (so it needs no page's
on_load), and its button mails a new link (:func:`lashme.app.recovery.resend_verification`,
throttled per account).
"""

from __future__ import annotations

import reflex as rx

from lashme.app import recovery
from lashme.ui.i18n import tr
from lashme.ui.state import SessionState


class VerifyBannerState(SessionState):
    """Whether to show the banner, and its text (the caller's own address only)."""

    unverified: bool = False
    banner_text: str = ""

    @rx.event
    def check(self):
        """on_mount: ask whether the signed-in caller still has to confirm the address."""
        st, refused = self._call(recovery.status)
        if refused is not None or st is None:
            self.unverified = False
            return
        self.unverified = not st.verified
        self.banner_text = self._tr("verify.banner", email=st.email) if self.unverified else ""

    @rx.event
    async def resend(self):
        """Mail a new confirmation link (the older ones stop working)."""
        try:
            origin = self.router.url.origin
        except AttributeError:
            origin = ""
        _, refused = await self._call_async(recovery.resend_verification, origin=origin)
        if refused is not None:
            yield refused
            return
        yield rx.toast.success(self._tr("verify.resent"))


def verify_banner() -> rx.Component:
    """The banner (renders nothing for visitors and confirmed accounts)."""
    return rx.cond(
        SessionState.signed_in,
        rx.box(
            rx.cond(
                VerifyBannerState.unverified,
                rx.box(
                    rx.callout.root(
                        rx.callout.icon(rx.icon("mail_warning")),
                        rx.flex(
                            rx.callout.text(VerifyBannerState.banner_text, id="verify-banner-text"),
                            rx.button(
                                tr("verify.resend"),
                                on_click=VerifyBannerState.resend,
                                variant="soft",
                                size="2",
                                id="verify-resend",
                                min_height="44px",
                            ),
                            gap="2",
                            wrap="wrap",
                            align="center",
                        ),
                        color_scheme="amber",
                        width="100%",
                        id="verify-banner",
                    ),
                    padding_x="1em",
                    padding_top="1em",
                    max_width="960px",
                    margin_x="auto",
                ),
            ),
            on_mount=VerifyBannerState.check,
            width="100%",
        ),
    )
