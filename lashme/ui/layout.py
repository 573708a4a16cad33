"""The page template: header with logo, balance and account links, then the page body."""

from __future__ import annotations

import reflex as rx

from lashme.ui.state import SessionState

ROSE = "hsl(340 70% 55%)"
CREAM = "hsl(30 15% 97%)"


def header() -> rx.Component:
    """Logo, navigation, balance and sign-in/out."""
    return rx.hstack(
        rx.link(rx.heading("LashMe", size="6", color=ROSE), href="/", underline="none"),
        rx.spacer(),
        rx.cond(
            SessionState.signed_in,
            rx.hstack(
                rx.link(
                    rx.badge(
                        rx.icon("sparkles", size=14),
                        rx.text(SessionState.balance, id="balance"),
                        rx.text("credits"),
                        size="2",
                        color_scheme="pink",
                        variant="soft",
                    ),
                    href="/credits",
                    id="nav-credits",
                    underline="none",
                ),
                rx.button(
                    "Sign out", on_click=SessionState.sign_out, variant="ghost", size="2", id="sign-out"
                ),
                align="center",
                spacing="3",
            ),
            rx.hstack(
                rx.link("Sign in", href="/login", size="2"),
                rx.link(rx.button("Sign up", size="2"), href="/signup", id="nav-signup"),
                align="center",
                spacing="3",
            ),
        ),
        width="100%",
        padding_x="1em",
        padding_y="0.75em",
        align="center",
        border_bottom="1px solid var(--gray-a4)",
    )


def page_shell(*children: rx.Component) -> rx.Component:
    """Wrap a page body in the shared layout (mobile first, centred, max 960 px)."""
    return rx.box(
        header(),
        rx.center(
            rx.vstack(*children, width="100%", max_width="960px", align="center", spacing="5"),
            padding="1em",
            width="100%",
        ),
        background=CREAM,
        min_height="100vh",
    )
