"""bookings: who cancelled, when the client confirmed attendance, when the client last moved the booking

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_by', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('attendance_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('client_moved_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('client_moved_at')
        batch_op.drop_column('attendance_confirmed_at')
        batch_op.drop_column('cancelled_by')
