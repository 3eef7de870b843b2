"""images uploaded in the editors (media_files: WebP widths as variants of a fallback, decorative, used_for; an
image for posts, services and courses), case studies (case_studies, case_study_services)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 08:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decorative', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('used_for', sa.String(length=40), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_media_files_variant_of_id'), ['variant_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_files_used_for'), ['used_for'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_media_files_variant_of_id_media_files'), 'media_files',
                                    ['variant_of_id'], ['id'], ondelete='CASCADE')
    # A plain ADD COLUMN (with its REFERENCES on SQLite), never a batch copy of the table: that would drop
    # the search index's triggers on posts (0012).
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in ('posts', 'services', 'courses'):
        name = op.f(f'fk_{table}_image_id_media_files')
        if sqlite:
            op.execute(f'ALTER TABLE {table} ADD COLUMN image_id INTEGER '
                       f'CONSTRAINT {name} REFERENCES media_files (id)')
        else:
            op.add_column(table, sa.Column('image_id', sa.Integer(), nullable=True))
            op.create_foreign_key(name, table, 'media_files', ['image_id'], ['id'])
    op.create_table('case_studies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('client', sa.String(length=200), nullable=False),
    sa.Column('client_named', sa.Boolean(), nullable=False),
    sa.Column('summary', sa.String(length=300), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('problem_html', sa.Text(), nullable=False),
    sa.Column('work', sa.Text(), nullable=False),
    sa.Column('work_html', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('result_html', sa.Text(), nullable=False),
    sa.Column('technologies', sa.JSON(), nullable=False),
    sa.Column('quote', sa.Text(), nullable=False),
    sa.Column('quote_by', sa.String(length=200), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['media_files.id'], name=op.f('fk_case_studies_image_id_media_files'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_studies')),
    sa.UniqueConstraint('slug', name=op.f('uq_case_studies_slug'))
    )
    with op.batch_alter_table('case_studies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_studies_published_at'), ['published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_studies_status'), ['status'], unique=False)
    op.create_table('case_study_services',
    sa.Column('case_study_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_study_id'], ['case_studies.id'], name=op.f('fk_case_study_services_case_study_id_case_studies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_case_study_services_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_study_id', 'service_id', name=op.f('pk_case_study_services'))
    )
    with op.batch_alter_table('case_study_services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_study_services_service_id'), ['service_id'], unique=False)


def downgrade():
    op.drop_table('case_study_services')
    op.drop_table('case_studies')
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in ('courses', 'services', 'posts'):
        if not sqlite:
            op.drop_constraint(op.f(f'fk_{table}_image_id_media_files'), table, type_='foreignkey')
        op.drop_column(table, 'image_id')  # SQLite 3.35+ drops a column with its REFERENCES in place
    with op.batch_alter_table('media_files', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_media_files_variant_of_id_media_files'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_media_files_used_for'))
        batch_op.drop_index(batch_op.f('ix_media_files_variant_of_id'))
        batch_op.drop_column('used_for')
        batch_op.drop_column('decorative')
        batch_op.drop_column('variant_of_id')
