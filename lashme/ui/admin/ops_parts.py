"""Small pieces shared by the admin pricing, payments, stats, queue and home pages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import reflex as rx
from babel.numbers import get_currency_precision

from lashme.errors import DomainError


def figure_card(label: rx.Var, value: rx.Var, card_id: str, href: str | None = None) -> rx.Component:
    """A small card with a label and a big number (a link when ``href`` is given).

    Args:
        label: the caption.
        value: the figure.
        card_id: the card's element id.
        href: where the card links to.

    Returns:
        The card component.
    """
    card = rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.text(value, size="6", weight="bold"),
            spacing="1",
        ),
        width="100%",
        id=card_id,
    )
    return rx.link(card, href=href, underline="none", width="100%") if href else card


def minor_units(text: object, currency: str) -> int:
    """A price typed in major units (``"18"``, ``"18.5"``, ``"18,50"``) as minor units of ``currency``.

    Args:
        text: what the admin typed.
        currency: lower-case ISO code (its minor-unit digits come from CLDR via Babel).

    Returns:
        The amount in minor units (e.g. 1850).

    Raises:
        DomainError: ``admin.pricing.bad_price`` when it is not a positive amount with at most
            the currency's decimals.
    """
    raw = str(text if text is not None else "").strip().replace(",", ".").replace(" ", "")
    if not raw or len(raw) > 16:
        raise DomainError("admin.pricing.bad_price")
    try:
        amount = Decimal(raw)
        digits = get_currency_precision(str(currency).upper())
    except (InvalidOperation, ValueError) as exc:
        raise DomainError("admin.pricing.bad_price") from exc
    if not amount.is_finite():
        raise DomainError("admin.pricing.bad_price")
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value() or minor <= 0:
        raise DomainError("admin.pricing.bad_price")
    return int(minor)


def major_units(minor: int, currency: str) -> str:
    """Minor units as the plain decimal an admin edits (``1850, "usd"`` → ``"18.50"``).

    Args:
        minor: amount in minor units.
        currency: lower-case ISO code.

    Returns:
        The amount without a currency sign.
    """
    digits = get_currency_precision(str(currency).upper())
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"
