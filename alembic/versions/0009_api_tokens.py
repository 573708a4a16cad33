"""REST API v1: personal access tokens (hashed) and remembered idempotent responses.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401 - AutoString, UTCDateTime


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create ``api_tokens`` and ``api_idempotency``."""
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('scopes', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
    op.create_table(
        'api_idempotency',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'key'),
    )
    with op.batch_alter_table('api_idempotency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotency_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_idempotency_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    """Drop the two tables."""
    op.drop_table('api_idempotency')
    op.drop_table('api_tokens')
