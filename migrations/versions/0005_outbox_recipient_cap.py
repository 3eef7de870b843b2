"""outbox: recipient_key for the per-recipient cap on automatic mail (and the `skipped` status, a plain string)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_key', sa.String(length=320), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_messages_recipient_key'), ['recipient_key'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_recipient_key'))
        batch_op.drop_column('recipient_key')
