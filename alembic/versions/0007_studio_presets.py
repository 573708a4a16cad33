"""Studio presets become versioned: version 1 of the four studio presets (today's fixed pipelines).

Strength 1.0 and no parameters reproduce the pipelines exactly; the prompt
of a studio version is only a description.  The seed below is a frozen copy
(``lashme.images.presets.STUDIO_DESCRIPTIONS`` may change later; these rows do not).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:00:00

"""
from datetime import datetime, timezone
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401 - UTCDateTime


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

DESCRIPTIONS = {
    "natural": "Auto white balance, exposure and gentle local contrast: a neutral studio look.",
    "warm_glow": "Warm golden-hour grade with a soft bloom around highlights.",
    "crisp_detail": "Local contrast and an edge-aware unsharp mask: crisp lashes, nail edges and brows.",
    "soft_focus": "Edge-preserving skin smoothing with a subtle vignette.",
}

presets = sa.table(
    'preset_versions',
    sa.column('name', sa.String),
    sa.column('version', sa.Integer),
    sa.column('provider', sa.String),
    sa.column('model', sa.String),
    sa.column('prompt', sa.String),
    sa.column('strength', sa.Float),
    sa.column('params', sa.JSON),
    sa.column('active', sa.Boolean),
    sa.column('created_at', sqlmodel.sql.sqltypes.UTCDateTime()),
)


def upgrade() -> None:
    """Seed version 1 of the studio presets (skipping any a previous run already added)."""
    conn = op.get_bind()
    existing = set(
        conn.execute(sa.select(presets.c.name).where(presets.c.provider == 'studio')).scalars()
    )
    now = datetime.now(timezone.utc)
    rows = [
        {"name": name, "version": 1, "provider": "studio", "model": "studio", "prompt": text,
         "strength": 1.0, "params": {}, "active": True, "created_at": now}
        for name, text in DESCRIPTIONS.items()
        if name not in existing
    ]
    if rows:
        op.bulk_insert(presets, rows)


def downgrade() -> None:
    """Remove the studio presets' versions (destructive: jobs that pinned them can no longer be retried)."""
    op.execute(presets.delete().where(presets.c.provider == 'studio'))
