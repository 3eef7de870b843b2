"""admin login failures per (account, client network); the account-wide lock columns go

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('admin_login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['admin_users.id'], name=op.f('fk_admin_login_failures_user_id_admin_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_login_failures')),
    sa.UniqueConstraint('user_id', 'network', name='uq_admin_login_failures_user_network')
    )
    op.create_index(op.f('ix_admin_login_failures_last_at'), 'admin_login_failures', ['last_at'], unique=False)
    op.create_index(op.f('ix_admin_login_failures_user_id'), 'admin_login_failures', ['user_id'], unique=False)
    # The lock that applied to the account from everywhere is gone (a weapon against the consultant).
    with op.batch_alter_table('admin_users') as batch:
        batch.drop_column('locked_until')
        batch.drop_column('failed_logins')


def downgrade():
    with op.batch_alter_table('admin_users') as batch:
        batch.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.drop_index(op.f('ix_admin_login_failures_user_id'), table_name='admin_login_failures')
    op.drop_index(op.f('ix_admin_login_failures_last_at'), table_name='admin_login_failures')
    op.drop_table('admin_login_failures')
