"""site settings (site_settings): the site's name, tagline, home page hero, consultant, footer, profile links,
time zone and locale, one row edited at /admin/settings

The row is filled by `flask seed` from the environment (SITE_NAME, CONSULTANT_NAME, CONSULTANT_EMAIL,
SITE_TIMEZONE); until then the site shows those same defaults.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 08:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('site_settings',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('site_name', sa.String(length=100), nullable=False),
    sa.Column('tagline', sa.String(length=200), nullable=False),
    sa.Column('hero_eyebrow', sa.String(length=200), nullable=False),
    sa.Column('hero_heading', sa.String(length=200), nullable=False),
    sa.Column('hero_text', sa.Text(), nullable=False),
    sa.Column('calls_to_action', sa.JSON(), nullable=False),
    sa.Column('consultant_name', sa.String(length=200), nullable=False),
    sa.Column('consultant_email', sa.String(length=254), nullable=False),
    sa.Column('footer_text', sa.Text(), nullable=False),
    sa.Column('profile_links', sa.JSON(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_settings'))
    )


def downgrade():
    op.drop_table('site_settings')
