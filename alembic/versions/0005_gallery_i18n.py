"""Gallery and languages: favorite variants, job notes, each user's UI language.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-21 20:45:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add ``variants.favorite``, ``jobs.note`` and ``users.locale``."""
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('favorite', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_variants_favorite'), ['favorite'], unique=False)
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note', sa.String(length=200), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('note')
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_variants_favorite'))
        batch_op.drop_column('favorite')
