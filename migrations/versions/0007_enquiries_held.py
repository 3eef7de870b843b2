"""enquiries: `held` status (a plain string) for submissions only too fast to be a person's; those filed as spam so far move there

An enquiry sent within SPAM_MIN_SECONDS of its form being shown, with nothing else wrong, was filed
as spam and mailed to nobody. It is now held for the consultant's review (Enquiry.HELD), shown in the
inbox and counted on the dashboard; this moves the ones already stored there, so none stays hidden.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

enquiries = sa.table('enquiries', sa.column('status', sa.String), sa.column('spam_reason', sa.String))
TOO_FAST = 'submitted too fast'


def upgrade():
    op.execute(enquiries.update()
               .where(enquiries.c.status == 'spam', enquiries.c.spam_reason == TOO_FAST)
               .values(status='held'))


def downgrade():
    # Back to where the old code files them; the reason stays, so "Not spam" still sends their emails.
    op.execute(enquiries.update().where(enquiries.c.status == 'held').values(status='spam'))
