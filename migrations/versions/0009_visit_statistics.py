"""visit statistics: the day's salt, raw hits (kept a few days), counters per day, conversions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stats_salts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_stats_salts'))
    )
    op.create_table('stats_hits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('visitor', sa.String(length=32), nullable=True),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('referrer', sa.String(length=200), nullable=False),
    sa.Column('came_from', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('browser', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_hits'))
    )
    op.create_index(op.f('ix_stats_hits_day'), 'stats_hits', ['day'], unique=False)
    op.create_table('stats_counters',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dim', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('visitors', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'dim', 'key', 'target', name=op.f('pk_stats_counters'))
    )
    op.create_table('stats_conversions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('page', sa.String(length=300), nullable=False),
    sa.Column('visitor', sa.String(length=32), nullable=True),
    sa.Column('entry_path', sa.String(length=300), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_conversions'))
    )
    op.create_index(op.f('ix_stats_conversions_day'), 'stats_conversions', ['day'], unique=False)
    op.create_index(op.f('ix_stats_conversions_ref'), 'stats_conversions', ['ref'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_stats_conversions_ref'), table_name='stats_conversions')
    op.drop_index(op.f('ix_stats_conversions_day'), table_name='stats_conversions')
    op.drop_table('stats_conversions')
    op.drop_table('stats_counters')
    op.drop_index(op.f('ix_stats_hits_day'), table_name='stats_hits')
    op.drop_table('stats_hits')
    op.drop_table('stats_salts')
