"""Prices, daily limits and credit packs, read from the database.

The values live in ``price_settings`` (seeded by migration 0002) so admins
can change them without a deploy.  A job keeps the generation cost it was
reserved at (``jobs.reserved_credits``), so a price change never alters an
existing reservation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from lashme.errors import NotFound
from lashme.i18n import format_money  # noqa: F401 - money is formatted in one place (i18n)
from lashme.models import CreditPack, PriceSetting, utcnow

#: Every price/limit key with its default (used when a row is missing) and its meaning.
PRICE_KEYS: dict[str, tuple[int, str]] = {
    "unlock_cost": (1, "credits to unlock one variant's full-resolution files"),
    "generation_cost": (0, "credits reserved per submitted job (captured on success)"),
    "signup_bonus": (3, "free credits granted at sign-up"),
    "daily_limit_anon": (3, "jobs per day for a visitor (per browser)"),
    "daily_limit_user": (20, "jobs per day for a signed-in user"),
    "daily_limit_anon_ip": (
        15,
        "jobs per day for all visitors behind one IP address (shared salon Wi-Fi), at least daily_limit_anon",
    ),
}


@dataclass(frozen=True)
class Prices:
    """Current prices (credits) and daily job limits (jobs per UTC day).

    ``daily_limit_anon`` counts per browser, ``daily_limit_anon_ip`` caps all visitors behind one IP.
    """

    unlock_cost: int
    generation_cost: int
    signup_bonus: int
    daily_limit_anon: int
    daily_limit_user: int
    daily_limit_anon_ip: int = 15


def get_prices(session: Session) -> Prices:
    """Read every price; a missing row falls back to its default in :data:`PRICE_KEYS`."""
    stored = dict(session.execute(select(PriceSetting.key, PriceSetting.value)).all())
    return Prices(**{k: int(stored.get(k, default)) for k, (default, _) in PRICE_KEYS.items()})


def set_price(session: Session, key: str, value: int, *, actor: str) -> int:
    """Set one price/limit; returns the previous value.

    Raises:
        ValueError: unknown key or negative value.
    """
    if key not in PRICE_KEYS:
        raise ValueError(f"unknown price key {key!r}")
    if value < 0:
        raise ValueError("prices and limits cannot be negative")
    row = session.get(PriceSetting, key)
    before = row.value if row else PRICE_KEYS[key][0]
    if row is None:
        row = PriceSetting(key=key, value=value)
    row.value, row.updated_at, row.updated_by = value, utcnow(), actor
    session.add(row)
    session.flush()
    return before


def active_packs(session: Session) -> list[CreditPack]:
    """Packs on sale, in display order."""
    return list(
        session.execute(
            select(CreditPack).where(CreditPack.active).order_by(CreditPack.sort_order, CreditPack.id)
        ).scalars()
    )


def get_active_pack(session: Session, pack_id: int) -> CreditPack:
    """The active pack ``pack_id``.

    Raises:
        NotFound: ``credits.pack_not_found`` when missing or inactive.
    """
    pack = session.get(CreditPack, pack_id) if isinstance(pack_id, int) else None
    if pack is None or not pack.active:
        raise NotFound("credits.pack_not_found")
    return pack
