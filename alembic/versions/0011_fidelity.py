"""Fidelity guard of generative outputs: ``variants.fidelity_score`` and ``variants.altered``.

A fal variant's structural fidelity to the original (``lashme.providers.fidelity``) is stored
with it; an ``altered`` variant reshapes the work and is never offered for unlock.  Existing
variants keep ``fidelity_score`` NULL (not measured) and ``altered`` false.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``variants.fidelity_score`` (nullable float) and ``variants.altered`` (false)."""
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fidelity_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("altered", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop the columns added above."""
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_column("altered")
        batch_op.drop_column("fidelity_score")
