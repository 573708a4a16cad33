"""``/``: the landing page for visitors; a signed-in master is sent on to ``/upload``.

Top to bottom (PRODUCT.md): sticky header, the sign-up bonus badge, the headline and subline, the
upload zone itself (trying takes one tap), how it works in three steps, real before/after
examples made by our studio engine, prices from ``credit_packs``, FAQ, a last call to try, footer.
Data comes from :func:`lashme.app.landing.landing_view`; words from ``landing.po``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from lashme import i18n
from lashme.app import landing
from lashme.ui.components.footer import site_footer
from lashme.ui.i18n import early, tr
from lashme.ui.layout import page_shell
from lashme.ui.pages.upload import UploadState, upload_zone
from lashme.ui.state import SessionState


class LandingState(SessionState):
    """Prices and examples of the landing page (public data, refreshed on every load)."""

    packs: list[dict[str, Any]] = []
    examples: list[dict[str, str]] = []

    @rx.var
    def bonus_badge(self) -> str:
        """The badge above the headline, pluralized ("3 фото бесплатно при регистрации")."""
        return landing.bonus_badge(self.signup_bonus, self.locale)

    @rx.var
    def start_credits(self) -> str:
        """The free "Start" card's credits in words ("3 кредита")."""
        return i18n.translate_plural("plural.credits", self.signup_bonus, self.locale)

    @rx.event
    async def on_load(self):
        """Refresh the session; a signed-in master goes to her upload page, a visitor gets the data."""
        self._ensure_anon()
        caller = self._refresh_user()
        if caller.signed_in:
            return rx.redirect("/upload", replace=True)
        view = await asyncio.to_thread(landing.landing_view, caller)
        self.signup_bonus = view.signup_bonus
        self.packs = [
            {
                "id": p.id,
                "name": i18n.translate("landing.plan.pack", caller.locale, n=p.credits),
                "credits": p.credits_label,
                "price": p.price,
                "per_photo": i18n.translate("landing.plan.per_photo", caller.locale, price=p.per_photo),
                "popular": p.popular,
                "code": p.code,
            }
            for p in view.packs
        ]
        self.examples = [
            {
                "name": e.name,
                "before": e.before_url,
                "after": e.after_url,
                "preset": i18n.translate(f"preset.{e.preset}", caller.locale),
            }
            for e in view.examples
        ]
        return None


def _section(
    section_id: str, title_key: str, *children: rx.Component, lead_key: str | None = None
) -> rx.Component:
    heading_id = f"{section_id}-title"
    return rx.el.section(
        rx.el.h2(tr(title_key), class_name="lm-h2", id=heading_id),
        *([rx.el.p(tr(lead_key), class_name="lm-lead")] if lead_key else []),
        *children,
        class_name="lm-section",
        id=section_id,
        aria_labelledby=heading_id,
    )


def hero() -> rx.Component:
    """Badge, headline, subline and the upload zone."""
    return rx.el.section(
        rx.el.p(
            rx.icon("gift", size=16, aria_hidden="true"),
            rx.el.span(early(LandingState.bonus_badge, "=landing.badge"), id="bonus-badge"),
            class_name="lm-hero-badge",
        ),
        rx.el.h1(tr("landing.title"), class_name="lm-hero-title", id="hero-title"),
        rx.el.p(tr("landing.subtitle"), class_name="lm-hero-sub"),
        rx.box(
            upload_zone(),
            rx.cond(
                UploadState.error != "",
                rx.callout(
                    UploadState.error,
                    icon="triangle_alert",
                    color_scheme="red",
                    width="100%",
                    id="upload-error",
                    margin_top="0.75rem",
                ),
            ),
            class_name="lm-hero-upload",
        ),
        rx.el.p(tr("landing.try_note"), class_name="lm-note"),
        class_name="lm-hero",
        id="hero",
        aria_labelledby="hero-title",
    )


def how_it_works() -> rx.Component:
    """Three numbered steps."""
    return _section(
        "how",
        "landing.how.title",
        rx.el.ol(
            *[
                rx.el.li(
                    rx.el.span(str(n), class_name="lm-step-num", aria_hidden="true"),
                    rx.el.div(
                        rx.el.h3(tr(f"landing.how.{n}.title")),
                        rx.el.p(tr(f"landing.how.{n}.text")),
                    ),
                    class_name="lm-step",
                )
                for n in (1, 2, 3)
            ],
            class_name="lm-steps",
        ),
    )


def _example(ex: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.el.figure(
                rx.el.img(
                    src=ex["before"],
                    alt=tr("landing.examples.before_alt"),
                    width="720",
                    height="900",
                    loading="lazy",
                    decoding="async",
                ),
                rx.el.figcaption(tr("landing.examples.before")),
            ),
            rx.el.figure(
                rx.el.img(
                    src=ex["after"],
                    alt=tr("landing.examples.after_alt"),
                    width="720",
                    height="900",
                    loading="lazy",
                    decoding="async",
                    class_name="lm-example-after",
                ),
                rx.el.figcaption(tr("landing.examples.after")),
                class_name="lm-after",
            ),
            class_name="lm-example-pair",
        ),
        rx.el.p(ex["preset"], class_name="lm-example-caption"),
        class_name="lm-example",
    )


def examples() -> rx.Component:
    """Before/after pairs (our studio's output on real photos); hidden until there are some."""
    return rx.cond(
        LandingState.examples.length() > 0,  # type: ignore[attr-defined]
        _section(
            "examples",
            "landing.examples.title",
            rx.el.div(rx.foreach(LandingState.examples, _example), class_name="lm-examples"),
            lead_key="landing.examples.subtitle",
        ),
    )


def _start_card() -> rx.Component:
    return rx.el.div(
        rx.el.div(tr("landing.plan.start"), class_name="lm-plan-name"),
        rx.el.div(tr("landing.plan.free"), class_name="lm-plan-price"),
        rx.el.div(
            early(LandingState.start_credits, "=landing.start_credits"),
            " ",
            tr("landing.plan.on_signup"),
            class_name="lm-plan-meta",
        ),
        rx.button(rx.link(tr("landing.start_free"), href="/signup"), as_child=True, size="3", variant="soft"),
        class_name="lm-plan",
        id="plan-start",
    )


def _pack_card(pack: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.cond(pack["popular"], rx.el.span(tr("landing.plan.popular"), class_name="lm-plan-badge")),
        rx.el.div(pack["name"], class_name="lm-plan-name"),
        rx.el.div(pack["price"], class_name="lm-plan-price"),
        rx.el.div(pack["credits"], class_name="lm-plan-meta"),
        rx.el.div(pack["per_photo"], class_name="lm-plan-per"),
        rx.button(
            rx.link(tr("landing.plan.choose"), href="/signup?next=/credits"),
            as_child=True,
            size="3",
            variant=rx.cond(pack["popular"], "solid", "soft"),
        ),
        class_name=rx.cond(pack["popular"], "lm-plan lm-pack lm-popular", "lm-plan lm-pack"),
        data_code=pack["code"],
    )


def prices() -> rx.Component:
    """The free start and the packs on sale; 1 credit = 1 download."""
    return _section(
        "prices",
        "landing.prices.title",
        rx.el.div(_start_card(), rx.foreach(LandingState.packs, _pack_card), class_name="lm-plans"),
        rx.el.p(tr("landing.credit_rule"), class_name="lm-rule", id="credit-rule"),
        lead_key="landing.prices.subtitle",
    )


def faq() -> rx.Component:
    """Honest edits, what a credit buys, privacy, trying without an account, which photos work."""
    return _section(
        "faq",
        "landing.faq.title",
        rx.el.div(
            *[
                rx.el.details(
                    rx.el.summary(tr(f"landing.faq.q{n}")),
                    rx.el.p(tr(f"landing.faq.a{n}")),
                    open=n == 1,
                )
                for n in range(1, 6)
            ],
            class_name="lm-faq",
        ),
    )


def final_call() -> rx.Component:
    """A last call to try, scrolling back to the upload zone."""
    return rx.el.section(
        rx.el.h2(tr("landing.cta.title")),
        rx.el.p(tr("landing.cta.text")),
        rx.el.a(tr("landing.cta.button"), href="#hero", class_name="lm-cta-button", id="cta-upload"),
        class_name="lm-cta",
        id="try",
    )


def landing_page() -> rx.Component:
    """The landing page."""
    return page_shell(
        rx.el.div(
            hero(),
            how_it_works(),
            examples(),
            prices(),
            faq(),
            final_call(),
            class_name="lm-landing",
        ),
        footer=site_footer(),
    )
