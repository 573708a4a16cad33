"""The landing page's use-case: the sign-up bonus, the credit packs and the before/after examples.

Everything here is public (the same for every visitor) except ``signed_in``, which tells the
page to send a signed-in master on to her upload page.  Prices are read from ``price_settings``
and ``credit_packs`` at every call, so an admin's change shows on the next page load; money is
formatted for the caller's language with Babel (CLDR): ``$18.00`` in English, ``18,00 $`` in
Russian.  The examples are real photos improved by our studio engine
(:mod:`lashme.images.examples`), made once and kept in storage; a storage failure hides the
section instead of failing the page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision

from lashme import i18n
from lashme.app.caller import Caller
from lashme.credits import pricing
from lashme.files.storage import get_storage
from lashme.images import examples
from lashme.ops.db import session_scope
from lashme.providers.studio import StudioProvider

log = logging.getLogger(__name__)

#: How long the examples' signed URLs live (s); the local backend keeps one URL for a quarter of it.
EXAMPLE_URL_TTL = 7 * 86400


@dataclass(frozen=True)
class PackCard:
    """One pricing card.

    Attributes:
        id: the pack's id (``credit_packs.id``), for the buy page.
        code: the pack's stable code, e.g. ``"pack_50"``.
        credits: credits in the pack.
        credits_label: ``credits`` in words for the language ("50 кредитов").
        price: the pack's price formatted for the language ("18,00 $").
        per_photo: the price of one photo (one credit) formatted, rounded to the currency's
            minor unit ("0,36 $").
        popular: the pack is marked popular.
    """

    id: int
    code: str
    credits: int
    credits_label: str
    price: str
    per_photo: str
    popular: bool


@dataclass(frozen=True)
class Example:
    """One before/after pair: URLs the browser can GET (signed, long-lived) and the preset used."""

    name: str
    preset: str
    before_url: str
    after_url: str


@dataclass(frozen=True)
class LandingView:
    """What the landing page shows.

    Attributes:
        signed_in: the caller is signed in (the page sends her to ``/upload``).
        signup_bonus: free credits a new account gets now (the badge above the headline and the
            free "Start" card; words for it: :func:`bonus_badge`).
        packs: the packs on sale, in display order.
        examples: the before/after pairs (empty when they could not be made or stored).
    """

    signed_in: bool
    signup_bonus: int
    packs: list[PackCard]
    examples: list[Example]


def money(amount: Decimal, currency: str, locale: str | None) -> str:
    """``amount`` (major units, e.g. ``Decimal("0.36")``) of ``currency`` formatted for ``locale`` (Babel)."""
    return format_currency(amount, currency.upper(), locale=i18n.money_locale(locale))


def per_photo_price(price_minor: int, credits: int, currency: str) -> Decimal:
    """The price of one credit in major units: ``(1800, 50, "usd")`` → ``Decimal("0.36")``.

    Raises:
        ValueError: ``credits`` is not positive.
    """
    if credits <= 0:
        raise ValueError("a pack holds at least one credit")
    digits = get_currency_precision(currency.upper())
    return (Decimal(price_minor) / Decimal(10) ** digits / credits).quantize(Decimal(1).scaleb(-digits))


def _example_views() -> list[Example]:
    try:
        storage = get_storage()
        pairs = examples.ensure_examples(storage, StudioProvider())
        return [
            Example(
                name=p.name,
                preset=p.preset,
                before_url=storage.url(p.before_key, expires_in=EXAMPLE_URL_TTL),
                after_url=storage.url(p.after_key, expires_in=EXAMPLE_URL_TTL),
            )
            for p in pairs
        ]
    except Exception:  # a missing example must not take the landing page down
        log.exception("landing.examples_unavailable")
        return []


def bonus_badge(signup_bonus: int, locale: str | None) -> str:
    """The badge above the headline: ``(3, "ru")`` → "3 фото бесплатно при регистрации" (CLDR plurals)."""
    return i18n.translate_plural("landing.badge", signup_bonus, locale)


def warm_examples() -> int:
    """Make the before/after examples now (at start-up) so the first visitor does not wait.

    Returns:
        How many pairs are stored (0 when they could not be made; the error is logged).
    """
    return len(_example_views())


def landing_view(caller: Caller) -> LandingView:
    """The landing page's data for ``caller`` (public; only ``signed_in`` depends on who asks).

    Args:
        caller: who asks; ``caller.locale`` picks the language of the words and money.

    Returns:
        A :class:`LandingView`.  The first call on a fresh install also renders the examples
        (about a second of CPU); call it off the event loop.
    """
    locale = caller.locale
    with session_scope() as s:
        prices = pricing.get_prices(s)
        packs = [
            PackCard(
                id=int(p.id or 0),
                code=p.code,
                credits=p.credits,
                credits_label=i18n.translate_plural("plural.credits", p.credits, locale),
                price=pricing.format_money(p.price_cents, p.currency, i18n.money_locale(locale)),
                per_photo=money(per_photo_price(p.price_cents, p.credits, p.currency), p.currency, locale),
                popular=bool(p.popular),
            )
            for p in pricing.active_packs(s)
            if p.credits > 0
        ]
    return LandingView(
        signed_in=caller.signed_in,
        signup_bonus=prices.signup_bonus,
        packs=packs,
        examples=_example_views(),
    )
