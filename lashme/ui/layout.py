"""The page template shared by every page: header, then the page body, mobile first.

Header: logo, balance, navigation, account menu, language switch, dark theme
toggle; it fits a 390 px wide phone and scales up to desktop.
"""

from __future__ import annotations

import reflex as rx

from lashme.ui.components.verify_banner import verify_banner
from lashme.ui.i18n import tr
from lashme.ui.state import SessionState

ROSE = "var(--pink-9)"
GOLD = "var(--lashme-gold)"
CREAM = "var(--color-background)"

NAV = (
    ("/upload", "nav.upload", "image_plus", "nav-upload"),
    ("/gallery", "nav.gallery", "images", "nav-gallery"),
    ("/dashboard", "nav.dashboard", "layout_dashboard", "nav-dashboard"),
)


def _nav_link(href: str, key: str, icon: str, link_id: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(tr(key), size="2"), align="center", spacing="1"),
        href=href,
        id=link_id,
        underline="none",
        color_scheme="gray",
        high_contrast=True,
        class_name="lm-touch",
        display="flex",
        align_items="center",
        padding_x="0.5em",
    )


def language_switch() -> rx.Component:
    """EN/RU toggle; shows the language it switches to."""
    return rx.button(
        rx.cond(SessionState.lang == "ru", "EN", "RU"),
        on_click=SessionState.toggle_language,
        variant="soft",
        color_scheme="gray",
        size="2",
        id="lang-switch",
        aria_label=tr("nav.language"),
        title=tr("nav.switch_lang"),
        min_width="44px",
    )


def account_menu() -> rx.Component:
    """The signed-in user's menu: email, dashboard, credits, sign out."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(rx.icon("user", size=18), variant="soft", size="2", id="account-menu"),
            aria_label=tr("nav.account"),
        ),
        rx.menu.content(
            rx.box(
                rx.text(SessionState.user_email, size="1", color_scheme="gray"),
                padding_x="0.75em",
                padding_y="0.25em",
            ),
            rx.menu.item(tr("nav.dashboard"), on_click=rx.redirect("/dashboard")),
            rx.menu.item(tr("nav.credits"), on_click=rx.redirect("/credits")),
            rx.menu.item(tr("account.title"), on_click=rx.redirect("/account"), id="menu-account"),
            rx.menu.separator(),
            rx.menu.item(tr("nav.sign_out"), on_click=SessionState.sign_out, color="red", id="menu-sign-out"),
        ),
    )


def brand() -> rx.Component:
    """The star logo and the name, linking home."""
    return rx.link(
        rx.icon("sparkle", size=22, class_name="lm-star", aria_hidden="true"),
        rx.el.span("LashMe", class_name="lm-brand-name"),
        href="/",
        underline="none",
        id="logo",
        class_name="lm-brand",
        aria_label=tr("landing.logo_label"),
    )


def session_known() -> rx.Var[bool]:
    """True once the server has told this tab who is signed in (or the page's on_load ran)."""
    return SessionState.session_known | rx.State.is_hydrated


def _visitor_actions() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.link(tr("nav.sign_in"), href="/login", id="nav-signin", underline="none"),
            as_child=True,
            variant="ghost",
            size="2",
            color_scheme="gray",
            high_contrast=True,
            class_name="lm-head-btn",
        ),
        rx.button(
            rx.link(tr("landing.start_free"), href="/signup", id="nav-signup", underline="none"),
            as_child=True,
            size="2",
            class_name="lm-head-btn",
        ),
        align="center",
        spacing="2",
        class_name="lm-head-actions",
    )


def _user_actions() -> rx.Component:
    return rx.hstack(
        account_menu(),
        rx.icon_button(
            rx.icon("log_out", size=18),
            on_click=SessionState.sign_out,
            variant="ghost",
            size="2",
            id="sign-out",
            aria_label=tr("nav.sign_out"),
            title=tr("nav.sign_out"),
            class_name="lm-touch",
        ),
        spacing="1",
        align="center",
    )


def _balance_badge() -> rx.Component:
    return rx.link(
        rx.badge(
            rx.icon("sparkles", size=14, aria_hidden="true"),
            rx.text(SessionState.balance, id="balance"),
            rx.text(SessionState.balance_unit),
            size="2",
            color_scheme="pink",
            variant="soft",
        ),
        href="/credits",
        id="nav-credits",
        underline="none",
        class_name="lm-touch",
        display="flex",
        align_items="center",
    )


def _skeleton(width: str, class_name: str = "") -> rx.Component:
    """A grey placeholder box (no text, hidden from screen readers) while the session is unknown."""
    return rx.box(class_name=f"lm-skel {class_name}".strip(), width=width, aria_hidden="true")


def header() -> rx.Component:
    """Two rows on a phone (brand and account; navigation), one wrapped row on wider screens; sticky.

    Until the session is known (:func:`session_known`) the signed-in parts are not rendered: a
    visitor (no sign-in cookie, ``<html data-lm-auth="0">`` from the server) sees the sign-in
    buttons at once, a returning user a neutral skeleton (``assets/theme.css``), so nobody sees the
    wrong shell or the admin link before the server has checked the session and the role.
    """
    pending = rx.fragment(
        rx.box(_visitor_actions(), class_name="lm-if-anon"),
        rx.hstack(
            _skeleton("3.5em"),
            _skeleton("44px"),
            spacing="2",
            align="center",
            class_name="lm-if-auth",
        ),
    )
    return rx.el.header(
        rx.hstack(
            brand(),
            rx.spacer(),
            rx.cond(session_known() & SessionState.signed_in, _balance_badge()),
            language_switch(),
            rx.color_mode.button(
                size="2",
                variant="soft",
                id="theme-toggle",
                aria_label=tr("nav.dark_theme"),
                class_name="lm-theme-toggle lm-touch",
            ),
            rx.cond(
                session_known(),
                rx.cond(SessionState.signed_in, _user_actions(), _visitor_actions()),
                pending,
            ),
            width="100%",
            align="center",
            spacing="2",
        ),
        rx.cond(
            session_known(),
            rx.cond(
                SessionState.signed_in,
                rx.el.nav(
                    rx.hstack(
                        *[_nav_link(*item) for item in NAV],
                        _nav_link("/credits", "nav.credits", "gem", "nav-credits-page"),
                        rx.cond(SessionState.is_staff, _nav_link("/admin", "nav.admin", "shield", "nav-admin")),
                        wrap="wrap",
                        spacing="1",
                        width="100%",
                    ),
                    id="main-nav",
                    aria_label=tr("nav.main"),
                ),
            ),
            rx.box(_skeleton("100%", "lm-skel-nav"), class_name="lm-if-auth", width="100%"),
        ),
        width="100%",
        padding_x="0.75em",
        padding_y="0.5em",
        border_bottom="1px solid var(--gray-a4)",
        class_name=rx.cond(SessionState.signed_in, "lm-header", "lm-header lm-visitor"),
    )


def page_shell(*children: rx.Component, footer: rx.Component | None = None) -> rx.Component:
    """Wrap a page body in the shared layout: header, ``<main>`` (centred, max 960 px), ``footer`` if given."""
    return rx.box(
        header(),
        verify_banner(),
        rx.el.main(
            rx.vstack(*children, width="100%", max_width="960px", align="center", spacing="5"),
            padding="1em",
            width="100%",
            display="flex",
            justify_content="center",
            id="main",
        ),
        *([footer] if footer is not None else []),
        background=CREAM,
        min_height="100vh",
        max_width="100vw",
        overflow_x="clip",  # not "hidden": that would make a scroll box and unstick the header
    )
