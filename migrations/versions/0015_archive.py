"""archived_at on posts, services, courses, training sessions, comments and enquiries

An archived row is hidden from the public pages and the admin's default lists, and restorable
(models/archive.py). NULL: not archived, which every existing row is.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

TABLES = ("posts", "services", "courses", "training_sessions", "comments", "enquiries")


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+ too): a batch copy would lose the search index's triggers on these tables.
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN archived_at")
