"""Accounts: email verification, single-use emailed links, OpenID Connect identities and logins.

Existing users count as verified (they signed up before verification existed and keep their bonus).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401 - AutoString, UTCDateTime


revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add ``users.email_verified_at`` (set for every existing user), ``email_tokens``,
    ``user_identities`` and ``oidc_logins``."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.execute(sa.text('UPDATE users SET email_verified_at = created_at WHERE email_verified_at IS NULL'))
    op.create_table(
        'email_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('email_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_tokens_user_id'), ['user_id'], unique=False)
    op.create_table(
        'user_identities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('issuer', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('issuer', 'subject', name='uq_user_identities_issuer_subject'),
    )
    with op.batch_alter_table('user_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_identities_user_id'), ['user_id'], unique=False)
    op.create_table(
        'oidc_logins',
        sa.Column('state_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('nonce', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('code_verifier', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('next_path', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('state_hash'),
    )
    with op.batch_alter_table('oidc_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_logins_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    """Drop the three tables and the column."""
    op.drop_table('oidc_logins')
    op.drop_table('user_identities')
    op.drop_table('email_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')
