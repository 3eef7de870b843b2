"""content version: the counter public writes bump (the page cache checks it)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('content_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('counter', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_version'))
    )
    # The one row (models/content_version.py bumps it with an upsert, so it would also appear by itself).
    op.bulk_insert(table, [{'id': 1, 'counter': 0}])


def downgrade():
    op.drop_table('content_version')
