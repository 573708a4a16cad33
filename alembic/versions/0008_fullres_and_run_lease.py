"""Full-resolution renders of unlocked variants and the per-run lease (fencing token) of jobs.

Adds ``jobs.run_token`` (incremented when a run claims the job) and the
``variants`` columns of ``lashme.jobs.fullres``: the private provider output a
full-size file is rendered from (fal), the clean previews made on unlock, the
full-size dimensions, the crops and the render status.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401 - UTCDateTime


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add ``jobs.run_token`` and the full-resolution columns of ``variants``.

    Variants made before this migration keep their files; their ``full_key`` (2048 px at most)
    counts as rendered, so their status is ``ready`` when they have one.
    """
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_token', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('clean_preview_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('clean_thumb_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('full_width', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('full_height', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('crops', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('fullres_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('fullres_error', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('fullres_updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_variants_fullres_status'), ['fullres_status'], unique=False)
    op.execute(
        "UPDATE variants SET fullres_status = 'ready', full_width = width, full_height = height "
        "WHERE full_key IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the columns added above."""
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_variants_fullres_status'))
        for name in (
            'fullres_updated_at', 'fullres_error', 'fullres_status', 'crops', 'full_height', 'full_width',
            'clean_thumb_key', 'clean_preview_key', 'source_key',
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('run_token')
