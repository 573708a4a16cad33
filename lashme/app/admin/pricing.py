"""Admin pricing: prices and daily limits (``price_settings``) and credit packs (``credit_packs``).

Ledger safety: nothing here touches a reservation or an order.  A job keeps
the generation cost it reserved (``Job.reserved_credits``, captured or
released later at that amount) and an order keeps the credits and amount
copied from its pack when it was created (``Order.credits`` /
``Order.amount_cents``), so a price or pack edit only affects what is bought
or submitted afterwards.

Every change is validated (whole numbers in a fixed range, a small set of
currencies) and written with an ``admin_actions`` audit row (before/after)
in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lashme.app.admin import audit
from lashme.app.admin.guard import require_admin
from lashme.credits import payments, pricing
from lashme.errors import DomainError, NotFound
from lashme.models import CreditPack, PriceSetting
from lashme.ops.settings import get_settings

#: Allowed value range (inclusive) of each price/limit key.
PRICE_RANGES: dict[str, tuple[int, int]] = {
    "unlock_cost": (0, 100),
    "generation_cost": (0, 100),
    "signup_bonus": (0, 100),
    "daily_limit_anon": (0, 1000),
    "daily_limit_user": (0, 10000),
    "daily_limit_anon_ip": (0, 10000),
}
#: Credits in one pack.
PACK_CREDITS = (1, 100_000)
#: Price of one pack in minor units (cents): more than zero, at most 100 000.00.
PACK_PRICE = (1, 10_000_000)
#: Position of a pack on the buy page.
PACK_SORT = (0, 1000)
#: Currencies a pack may be sold in (Stripe lower-case ISO codes, all with 2 minor-unit digits).
CURRENCIES = ("usd", "eur", "gbp")
PACK_CODE = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True)
class PriceRow:
    """One price or limit as the pricing page shows it.

    Attributes:
        key: the ``PRICE_KEYS`` name.
        value: current value (the default when no row exists).
        default: the built-in default.
        meaning: English description from ``PRICE_KEYS``.
        min_value: smallest allowed value.
        max_value: largest allowed value.
        updated_at: last change (None when never stored).
        updated_by: ``migration``, ``cli``, ``admin:{id}`` … (None when never stored).
    """

    key: str
    value: int
    default: int
    meaning: str
    min_value: int
    max_value: int
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class PackRow:
    """One credit pack (active or not).

    Attributes:
        id: pack id.
        code: unique code (``pack_50``).
        credits: credits granted.
        price_cents: price in the currency's minor unit.
        currency: lower-case ISO code.
        price: the price formatted in English (``$18.00``).
        popular: shown with the "popular" badge.
        active: on sale.
        sort_order: position on the buy page.
        created_at: when it was created.
    """

    id: int
    code: str
    credits: int
    price_cents: int
    currency: str
    price: str
    popular: bool
    active: bool
    sort_order: int
    created_at: datetime


def _whole(value: Any, lo: int, hi: int, key: str, **params: object) -> int:
    """``value`` (an int or a string of digits) as an int in ``lo..hi``, else ``DomainError(key)``."""
    if isinstance(value, bool):
        raise DomainError(key, min=lo, max=hi, **params)
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"-?\d{1,12}", text):
            raise DomainError(key, min=lo, max=hi, **params)
        value = int(text)
    if not isinstance(value, int) or not lo <= value <= hi:
        raise DomainError(key, min=lo, max=hi, **params)
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise DomainError("admin.pricing.bad_flag")
    return value


def _currency(value: Any) -> str:
    code = value.strip().lower() if isinstance(value, str) else ""
    if code not in CURRENCIES:
        raise DomainError("admin.pricing.bad_currency", allowed=", ".join(c.upper() for c in CURRENCIES))
    return code


def _price_key(key: Any) -> str:
    if not isinstance(key, str) or key not in pricing.PRICE_KEYS:
        raise DomainError("admin.pricing.unknown_key")
    return key


def _price_row(key: str, row: PriceSetting | None) -> PriceRow:
    default, meaning = pricing.PRICE_KEYS[key]
    lo, hi = PRICE_RANGES[key]
    return PriceRow(
        key=key,
        value=row.value if row else default,
        default=default,
        meaning=meaning,
        min_value=lo,
        max_value=hi,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
    )


def _pack_row(p: CreditPack) -> PackRow:
    return PackRow(
        id=p.id,
        code=p.code,
        credits=p.credits,
        price_cents=p.price_cents,
        currency=p.currency,
        price=pricing.format_money(p.price_cents, p.currency),
        popular=p.popular,
        active=p.active,
        sort_order=p.sort_order,
        created_at=p.created_at,
    )


def _pack_snapshot(p: CreditPack) -> dict[str, Any]:
    return {
        "code": p.code,
        "credits": p.credits,
        "price_cents": p.price_cents,
        "currency": p.currency,
        "popular": p.popular,
        "active": p.active,
        "sort_order": p.sort_order,
    }


def prices(session: Session, actor_id: int | None) -> list[PriceRow]:
    """Every price/limit key of :data:`lashme.credits.pricing.PRICE_KEYS`, in that order.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).

    Returns:
        One :class:`PriceRow` per key.

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="pricing.prices")
    stored = {r.key: r for r in session.execute(select(PriceSetting)).scalars()}
    return [_price_row(key, stored.get(key)) for key in pricing.PRICE_KEYS]


def set_price(session: Session, actor_id: int | None, key: str, value: int | str) -> PriceRow:
    """Set one price or limit (audited ``set_price``; actor ``admin:{id}`` on the row).

    Open reservations and pending orders keep their amounts (see the module docstring).
    Setting the current value again changes nothing and writes no audit row.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        key: a :data:`lashme.credits.pricing.PRICE_KEYS` name.
        value: whole number within :data:`PRICE_RANGES` (an int or a string of digits).

    Returns:
        The key's row after the change.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.pricing.unknown_key`` or ``admin.pricing.bad_value``.
    """
    admin = require_admin(session, actor_id, action="pricing.set_price")
    key = _price_key(key)
    lo, hi = PRICE_RANGES[key]
    value = _whole(value, lo, hi, "admin.pricing.bad_value")
    row = session.get(PriceSetting, key, with_for_update=True)
    current = row.value if row else pricing.PRICE_KEYS[key][0]
    if row is not None and current == value:
        return _price_row(key, row)
    before = pricing.set_price(session, key, value, actor=admin.actor)
    audit.record(
        session,
        admin,
        action="set_price",
        target_type="price",
        target_id=key,
        before={"value": before},
        after={"value": value},
    )
    return _price_row(key, session.get(PriceSetting, key))


def packs(session: Session, actor_id: int | None) -> list[PackRow]:
    """Every credit pack, active or not, in buy-page order.

    Args:
        session: open session.
        actor_id: the caller's user id (must be an admin).

    Returns:
        One :class:`PackRow` per pack.

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="pricing.packs")
    rows = session.execute(select(CreditPack).order_by(CreditPack.sort_order, CreditPack.id)).scalars()
    return [_pack_row(p) for p in rows]


def create_pack(
    session: Session,
    actor_id: int | None,
    *,
    code: str,
    credits: int | str,
    price_cents: int | str,
    currency: str = "usd",
    popular: bool = False,
    active: bool = True,
    sort_order: int | str = 0,
) -> PackRow:
    """Add a credit pack (audited ``create_pack``).

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        code: unique code, 1–32 of ``a-z 0-9 _``.
        credits: credits granted, within :data:`PACK_CREDITS`.
        price_cents: price in minor units, within :data:`PACK_PRICE`.
        currency: one of :data:`CURRENCIES`.
        popular: show the "popular" badge.
        active: on sale right away.
        sort_order: position on the buy page, within :data:`PACK_SORT`.

    Returns:
        The new pack.

    Raises:
        AdminRequired: the caller is not an admin.
        DomainError: ``admin.pricing.bad_code``, ``admin.pricing.code_taken``,
            ``admin.pricing.bad_credits``, ``admin.pricing.bad_price``,
            ``admin.pricing.bad_currency``, ``admin.pricing.bad_sort`` or ``admin.pricing.bad_flag``.
    """
    admin = require_admin(session, actor_id, action="pricing.create_pack")
    code = code.strip().lower() if isinstance(code, str) else ""
    if not PACK_CODE.fullmatch(code):
        raise DomainError("admin.pricing.bad_code")
    pack = CreditPack(
        code=code,
        credits=_whole(credits, *PACK_CREDITS, "admin.pricing.bad_credits"),
        price_cents=_whole(price_cents, *PACK_PRICE, "admin.pricing.bad_price"),
        currency=_currency(currency),
        popular=_flag(popular),
        active=_flag(active),
        sort_order=_whole(sort_order, *PACK_SORT, "admin.pricing.bad_sort"),
    )
    if session.execute(select(CreditPack.id).where(CreditPack.code == code)).first() is not None:
        raise DomainError("admin.pricing.code_taken", code=code)
    try:
        with session.begin_nested():
            session.add(pack)
            session.flush()
    except IntegrityError as exc:  # a parallel create with the same code won
        raise DomainError("admin.pricing.code_taken", code=code) from exc
    audit.record(
        session,
        admin,
        action="create_pack",
        target_type="pack",
        target_id=pack.id,
        after=_pack_snapshot(pack),
    )
    return _pack_row(pack)


def update_pack(
    session: Session,
    actor_id: int | None,
    pack_id: int,
    *,
    credits: int | str | None = None,
    price_cents: int | str | None = None,
    currency: str | None = None,
    active: bool | None = None,
    popular: bool | None = None,
    sort_order: int | str | None = None,
) -> PackRow:
    """Change a pack's fields (None leaves a field as it is); audited ``update_pack`` with the changed fields.

    Orders already created for the pack keep the credits and amount they
    copied; only new checkouts use the new values.

    Args:
        session: open session (the caller commits).
        actor_id: the caller's user id (must be an admin).
        pack_id: the pack's id.
        credits: credits granted, within :data:`PACK_CREDITS`.
        price_cents: price in minor units, within :data:`PACK_PRICE`.
        currency: one of :data:`CURRENCIES`.
        active: on sale.
        popular: show the "popular" badge.
        sort_order: position on the buy page, within :data:`PACK_SORT`.

    Returns:
        The pack after the change (unchanged, and no audit row, when nothing differs).

    Raises:
        AdminRequired: the caller is not an admin.
        NotFound: ``admin.pricing.pack_not_found``.
        DomainError: a value is out of range (see :func:`create_pack`).
    """
    admin = require_admin(session, actor_id, action="pricing.update_pack")
    if isinstance(pack_id, bool) or not isinstance(pack_id, int):
        raise NotFound("admin.pricing.pack_not_found")
    wanted: dict[str, Any] = {}
    if credits is not None:
        wanted["credits"] = _whole(credits, *PACK_CREDITS, "admin.pricing.bad_credits")
    if price_cents is not None:
        wanted["price_cents"] = _whole(price_cents, *PACK_PRICE, "admin.pricing.bad_price")
    if currency is not None:
        wanted["currency"] = _currency(currency)
    if active is not None:
        wanted["active"] = _flag(active)
    if popular is not None:
        wanted["popular"] = _flag(popular)
    if sort_order is not None:
        wanted["sort_order"] = _whole(sort_order, *PACK_SORT, "admin.pricing.bad_sort")
    pack = session.get(CreditPack, pack_id, with_for_update=True)
    if pack is None:
        raise NotFound("admin.pricing.pack_not_found")
    changed = {k: v for k, v in wanted.items() if getattr(pack, k) != v}
    if not changed:
        return _pack_row(pack)
    before = {k: getattr(pack, k) for k in changed}
    for k, v in changed.items():
        setattr(pack, k, v)
    session.add(pack)
    session.flush()
    audit.record(
        session,
        admin,
        action="update_pack",
        target_type="pack",
        target_id=pack.id,
        before=before,
        after=changed,
    )
    return _pack_row(pack)


@dataclass(frozen=True)
class PaymentsSetup:
    """Whether card payments work, and what an operator must set when they do not.

    Attributes:
        configured: Stripe Checkout is available to buyers.
        missing: the environment variables still unset (``STRIPE_SECRET_KEY``, ``STRIPE_WEBHOOK_SECRET``).
        webhook_url: where Stripe must post its events (``LASHME_PUBLIC_URL`` + ``/stripe/webhook``,
            or just the path when the public URL is not set).
        public_url_set: ``LASHME_PUBLIC_URL`` is set (Checkout return URLs use it).
    """

    configured: bool
    missing: tuple[str, ...]
    webhook_url: str
    public_url_set: bool


def payments_setup(session: Session, actor_id: int | None) -> PaymentsSetup:
    """What the pricing page tells an admin about Stripe (names of settings only, never their values).

    Raises:
        AdminRequired: the caller is not an admin.
    """
    require_admin(session, actor_id, action="pricing.prices")
    settings = get_settings()
    missing = tuple(
        name
        for name, value in (
            ("STRIPE_SECRET_KEY", settings.stripe_secret_key),
            ("STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret),
        )
        if not value
    )
    public = (settings.public_url or "").rstrip("/")
    return PaymentsSetup(
        configured=payments.is_configured(settings),
        missing=missing,
        webhook_url=f"{public}/stripe/webhook",
        public_url_set=bool(public),
    )
