"""search index (SQLite FTS5 tables kept by triggers; PostgreSQL tsvector columns with GIN indexes) and digest_runs

The search index covers enquiries, bookings, posts and comments (models/search.py); existing rows are
indexed here. digest_runs records each daily digest sent, one per day (cli/digest.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# The index as models/search.py defined it at this revision (frozen here: migrations import no app code;
# tests/admin/test_search.py checks the two agree).
SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_enquiries USING fts5(name, email, company, message, content='enquiries', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    'CREATE TRIGGER IF NOT EXISTS search_enquiries_insert AFTER INSERT ON enquiries BEGIN INSERT INTO search_enquiries(rowid, name, email, company, message) VALUES (new.id, new.name, new.email, new.company, new.message); END',
    "CREATE TRIGGER IF NOT EXISTS search_enquiries_delete AFTER DELETE ON enquiries BEGIN INSERT INTO search_enquiries(search_enquiries, rowid, name, email, company, message) VALUES ('delete', old.id, old.name, old.email, old.company, old.message); END",
    "CREATE TRIGGER IF NOT EXISTS search_enquiries_update AFTER UPDATE OF name, email, company, message ON enquiries BEGIN INSERT INTO search_enquiries(search_enquiries, rowid, name, email, company, message) VALUES ('delete', old.id, old.name, old.email, old.company, old.message); INSERT INTO search_enquiries(rowid, name, email, company, message) VALUES (new.id, new.name, new.email, new.company, new.message); END",
    "INSERT INTO search_enquiries(search_enquiries) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_bookings USING fts5(name, email, company, content='bookings', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    'CREATE TRIGGER IF NOT EXISTS search_bookings_insert AFTER INSERT ON bookings BEGIN INSERT INTO search_bookings(rowid, name, email, company) VALUES (new.id, new.name, new.email, new.company); END',
    "CREATE TRIGGER IF NOT EXISTS search_bookings_delete AFTER DELETE ON bookings BEGIN INSERT INTO search_bookings(search_bookings, rowid, name, email, company) VALUES ('delete', old.id, old.name, old.email, old.company); END",
    "CREATE TRIGGER IF NOT EXISTS search_bookings_update AFTER UPDATE OF name, email, company ON bookings BEGIN INSERT INTO search_bookings(search_bookings, rowid, name, email, company) VALUES ('delete', old.id, old.name, old.email, old.company); INSERT INTO search_bookings(rowid, name, email, company) VALUES (new.id, new.name, new.email, new.company); END",
    "INSERT INTO search_bookings(search_bookings) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_posts USING fts5(title, summary, body, content='posts', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    'CREATE TRIGGER IF NOT EXISTS search_posts_insert AFTER INSERT ON posts BEGIN INSERT INTO search_posts(rowid, title, summary, body) VALUES (new.id, new.title, new.summary, new.body); END',
    "CREATE TRIGGER IF NOT EXISTS search_posts_delete AFTER DELETE ON posts BEGIN INSERT INTO search_posts(search_posts, rowid, title, summary, body) VALUES ('delete', old.id, old.title, old.summary, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_posts_update AFTER UPDATE OF title, summary, body ON posts BEGIN INSERT INTO search_posts(search_posts, rowid, title, summary, body) VALUES ('delete', old.id, old.title, old.summary, old.body); INSERT INTO search_posts(rowid, title, summary, body) VALUES (new.id, new.title, new.summary, new.body); END",
    "INSERT INTO search_posts(search_posts) VALUES ('rebuild')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_comments USING fts5(author_name, author_email, body, content='comments', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    'CREATE TRIGGER IF NOT EXISTS search_comments_insert AFTER INSERT ON comments BEGIN INSERT INTO search_comments(rowid, author_name, author_email, body) VALUES (new.id, new.author_name, new.author_email, new.body); END',
    "CREATE TRIGGER IF NOT EXISTS search_comments_delete AFTER DELETE ON comments BEGIN INSERT INTO search_comments(search_comments, rowid, author_name, author_email, body) VALUES ('delete', old.id, old.author_name, old.author_email, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_comments_update AFTER UPDATE OF author_name, author_email, body ON comments BEGIN INSERT INTO search_comments(search_comments, rowid, author_name, author_email, body) VALUES ('delete', old.id, old.author_name, old.author_email, old.body); INSERT INTO search_comments(rowid, author_name, author_email, body) VALUES (new.id, new.author_name, new.author_email, new.body); END",
    "INSERT INTO search_comments(search_comments) VALUES ('rebuild')",
]
SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS search_enquiries_insert',
    'DROP TRIGGER IF EXISTS search_enquiries_delete',
    'DROP TRIGGER IF EXISTS search_enquiries_update',
    'DROP TABLE IF EXISTS search_enquiries',
    'DROP TRIGGER IF EXISTS search_bookings_insert',
    'DROP TRIGGER IF EXISTS search_bookings_delete',
    'DROP TRIGGER IF EXISTS search_bookings_update',
    'DROP TABLE IF EXISTS search_bookings',
    'DROP TRIGGER IF EXISTS search_posts_insert',
    'DROP TRIGGER IF EXISTS search_posts_delete',
    'DROP TRIGGER IF EXISTS search_posts_update',
    'DROP TABLE IF EXISTS search_posts',
    'DROP TRIGGER IF EXISTS search_comments_insert',
    'DROP TRIGGER IF EXISTS search_comments_delete',
    'DROP TRIGGER IF EXISTS search_comments_update',
    'DROP TABLE IF EXISTS search_comments',
]
POSTGRESQL = [
    "ALTER TABLE enquiries ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, coalesce(name, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(email, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(company, '')), 'B') || setweight(to_tsvector('simple'::regconfig, coalesce(message, '')), 'C') || setweight(to_tsvector('simple'::regconfig, translate(coalesce(email, ''), '@.', '  ') || ' ' || split_part(coalesce(email, ''), '@', 2)), 'A')) STORED",
    'CREATE INDEX IF NOT EXISTS ix_enquiries_search_vector ON enquiries USING gin (search_vector)',
    "ALTER TABLE bookings ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, coalesce(name, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(email, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(company, '')), 'B') || setweight(to_tsvector('simple'::regconfig, translate(coalesce(email, ''), '@.', '  ') || ' ' || split_part(coalesce(email, ''), '@', 2)), 'A')) STORED",
    'CREATE INDEX IF NOT EXISTS ix_bookings_search_vector ON bookings USING gin (search_vector)',
    "ALTER TABLE posts ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(summary, '')), 'B') || setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'C')) STORED",
    'CREATE INDEX IF NOT EXISTS ix_posts_search_vector ON posts USING gin (search_vector)',
    "ALTER TABLE comments ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, coalesce(author_name, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(author_email, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'C') || setweight(to_tsvector('simple'::regconfig, translate(coalesce(author_email, ''), '@.', '  ') || ' ' || split_part(coalesce(author_email, ''), '@', 2)), 'A')) STORED",
    'CREATE INDEX IF NOT EXISTS ix_comments_search_vector ON comments USING gin (search_vector)',
]
POSTGRESQL_DROP = [
    'DROP INDEX IF EXISTS ix_enquiries_search_vector',
    'ALTER TABLE enquiries DROP COLUMN IF EXISTS search_vector',
    'DROP INDEX IF EXISTS ix_bookings_search_vector',
    'ALTER TABLE bookings DROP COLUMN IF EXISTS search_vector',
    'DROP INDEX IF EXISTS ix_posts_search_vector',
    'ALTER TABLE posts DROP COLUMN IF EXISTS search_vector',
    'DROP INDEX IF EXISTS ix_comments_search_vector',
    'ALTER TABLE comments DROP COLUMN IF EXISTS search_vector',
]
SCHEMA = {'sqlite': (SQLITE, SQLITE_DROP), 'postgresql': (POSTGRESQL, POSTGRESQL_DROP)}


def upgrade():
    op.create_table(
        'digest_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('covered_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('outbox_message_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('day'),
    )
    for statement in SCHEMA.get(op.get_bind().dialect.name, ((), ()))[0]:
        op.execute(statement)


def downgrade():
    for statement in SCHEMA.get(op.get_bind().dialect.name, ((), ()))[1]:
        op.execute(statement)
    op.drop_table('digest_runs')
