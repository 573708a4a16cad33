"""fal provider: versioned presets (seeded with the four studio presets' fal prompts),
one row per submitted provider request, and the per-job cost record.

The seed below is a frozen copy of the first preset versions; later edits add
new versions instead of changing these rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401 - AutoString / UTCDateTime


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MODEL = "fal-ai/flux/dev/image-to-image"
BASE_PROMPT = (
    "Professional beauty photography of the master's work, true to the original: keep the same person, "
    "pose, lash, nail and brow work exactly as they are; clean studio lighting, sharp focus on the work, "
    "natural skin texture, high detail, 85mm lens"
)
STYLES = {
    "natural": "neutral white balance, soft even daylight, true-to-life colours",
    "warm_glow": "warm golden-hour glow, soft warm highlights, gentle bloom",
    "crisp_detail": "crisp micro-contrast, every lash and edge defined, bright clean background",
    "soft_focus": "soft retouched skin, dreamy diffused light, subtle vignette",
}
PARAMS = {"num_images": 1, "image_size": "portrait_4_3", "enable_safety_checker": True}


def upgrade() -> None:
    """Upgrade schema."""
    presets = op.create_table('preset_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('prompt', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'name', 'version', name='uq_preset_versions_pnv')
    )
    with op.batch_alter_table('preset_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preset_versions_name'), ['name'], unique=False)

    op.create_table('provider_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('preset_version_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('queue_position', sa.Integer(), nullable=True),
    sa.Column('image_count', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('webhook_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'index', name='uq_provider_requests_job_index'),
    sa.UniqueConstraint('request_id')
    )
    with op.batch_alter_table('provider_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_requests_job_id'), ['job_id'], unique=False)

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preset_version_ids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('provider_model', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column('provider_submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('provider_completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('provider_latency_s', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('provider_image_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('provider_cost_usd', sa.Float(), nullable=True))

    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    op.bulk_insert(presets, [
        {"name": name, "version": 1, "provider": "fal", "model": MODEL,
         "prompt": f"{BASE_PROMPT}; {style}", "strength": 0.45, "params": dict(PARAMS),
         "active": True, "created_at": now}
        for name, style in STYLES.items()
    ])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        for col in ('provider_cost_usd', 'provider_image_count', 'provider_latency_s', 'provider_completed_at',
                    'provider_submitted_at', 'provider_model', 'preset_version_ids'):
            batch_op.drop_column(col)
    with op.batch_alter_table('provider_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_requests_job_id'))
    op.drop_table('provider_requests')
    with op.batch_alter_table('preset_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preset_versions_name'))
    op.drop_table('preset_versions')
