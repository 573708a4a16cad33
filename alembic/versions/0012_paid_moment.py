"""The paid moment: a per-IP daily cap for visitors (``price_settings.daily_limit_anon_ip``).

Visitors are counted per browser (``daily_limit_anon``, 3) first; all visitors behind one IP
address together get at most ``daily_limit_anon_ip`` (15 by default: a salon's shared Wi-Fi).
Existing rows are left alone; a row already present (set by the CLI) is kept.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00

"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "daily_limit_anon_ip"
DEFAULT = 15


def upgrade() -> None:
    """Seed ``daily_limit_anon_ip`` unless a row exists."""
    bind = op.get_bind()
    exists = bind.execute(sa.text("SELECT 1 FROM price_settings WHERE key = :k"), {"k": KEY}).first()
    if exists is None:
        prices = sa.table(
            "price_settings",
            sa.column("key", sa.String),
            sa.column("value", sa.Integer),
            sa.column("updated_at", sa.DateTime),
            sa.column("updated_by", sa.String),
        )
        row = {"key": KEY, "value": DEFAULT, "updated_at": datetime.now(UTC), "updated_by": "migration"}
        op.bulk_insert(prices, [row])


def downgrade() -> None:
    """Remove the setting (the code falls back to its default)."""
    op.get_bind().execute(sa.text("DELETE FROM price_settings WHERE key = :k"), {"k": KEY})
