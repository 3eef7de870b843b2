"""seat limits (most seats per booking, pending bookings lapse), coalesced move emails, used form stamps

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_seats_per_booking', sa.Integer(), server_default='4', nullable=False))

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('moved_from_session_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('moved_from_status', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_pending_since'), ['pending_since'], unique=False)
    # Bookings already pending start their clock now, not at their creation: none lapses on deploy.
    op.execute(sa.text("UPDATE bookings SET pending_since = CURRENT_TIMESTAMP WHERE status = 'pending'"))

    op.create_table('used_form_stamps',
    sa.Column('stamp_hash', sa.String(length=64), nullable=False),
    sa.Column('form_name', sa.String(length=40), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('stamp_hash', name=op.f('pk_used_form_stamps'))
    )
    with op.batch_alter_table('used_form_stamps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_form_stamps_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('used_form_stamps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_form_stamps_created_at'))
    op.drop_table('used_form_stamps')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bookings_pending_since'))
        batch_op.drop_column('moved_from_status')
        batch_op.drop_column('moved_from_session_id')
        batch_op.drop_column('pending_since')

    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_column('max_seats_per_booking')
