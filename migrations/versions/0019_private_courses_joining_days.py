"""private courses (proposed dates, private booking links), joining details, the days of a multi-day session

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('join_url', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('join_text', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('venue_address', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('venue_room', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('arrival_notes', sa.Text(), server_default='', nullable=False))
    op.create_table(
        'session_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('session_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_days_session_id'), ['session_id'], unique=False)
    op.create_table(
        'session_proposals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enquiry_id', sa.Integer(), nullable=True),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['enquiry_id'], ['enquiries.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('session_id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('session_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_proposals_enquiry_id'), ['enquiry_id'], unique=False)
    op.create_table(
        'private_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('private_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_private_links_session_id'), ['session_id'], unique=False)


def downgrade():
    with op.batch_alter_table('private_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_private_links_session_id'))
    op.drop_table('private_links')
    with op.batch_alter_table('session_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_proposals_enquiry_id'))
    op.drop_table('session_proposals')
    with op.batch_alter_table('session_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_days_session_id'))
    op.drop_table('session_days')
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_column('arrival_notes')
        batch_op.drop_column('venue_room')
        batch_op.drop_column('venue_address')
        batch_op.drop_column('join_text')
        batch_op.drop_column('join_url')
