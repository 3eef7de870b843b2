"""invoices and credit notes (business_details, invoice_counters, invoices), Stripe webhook events handled
(stripe_events); bookings: invoice details (billing_address, vat_id, po_reference) and the card-payment hold
(checkout_session_id, checkout_url, hold_expires_at)

Invoice numbers come from invoice_counters, one row per series and year, locked while a number is taken.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:18:08.799552

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('business_details',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('vat_id', sa.String(length=20), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=False),
    sa.Column('payment_terms_days', sa.Integer(), nullable=False),
    sa.Column('number_format', sa.String(length=60), nullable=False),
    sa.Column('invoice_series', sa.String(length=10), nullable=False),
    sa.Column('credit_note_series', sa.String(length=10), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('default_tax_rate', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('reverse_charge', sa.Boolean(), nullable=False),
    sa.Column('reverse_charge_note', sa.String(length=300), nullable=False),
    sa.Column('footer_note', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_details'))
    )
    op.create_table('invoice_counters',
    sa.Column('series', sa.String(length=10), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', 'year', name=op.f('pk_invoice_counters'))
    )
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('series', sa.String(length=10), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('credits_id', sa.Integer(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('seller', sa.JSON(), nullable=False),
    sa.Column('buyer_name', sa.String(length=100), nullable=False),
    sa.Column('buyer_company', sa.String(length=150), nullable=False),
    sa.Column('buyer_address', sa.Text(), nullable=False),
    sa.Column('buyer_vat_id', sa.String(length=20), nullable=False),
    sa.Column('buyer_email', sa.String(length=254), nullable=False),
    sa.Column('po_reference', sa.String(length=60), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('tax_by_rate', sa.JSON(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('net_cents', sa.Integer(), nullable=False),
    sa.Column('tax_cents', sa.Integer(), nullable=False),
    sa.Column('gross_cents', sa.Integer(), nullable=False),
    sa.Column('reverse_charge', sa.Boolean(), nullable=False),
    sa.Column('reverse_charge_note', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('payment_method', sa.String(length=10), nullable=False),
    sa.Column('payment_reference', sa.String(length=255), nullable=False),
    sa.Column('reminder_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('credited_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_invoices_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['credits_id'], ['invoices.id'], name=op.f('fk_invoices_credits_id_invoices'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    sa.UniqueConstraint('series', 'year', 'sequence', name=op.f('uq_invoices_series'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_issued_on'), ['issued_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_kind'), ['kind'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_address', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('vat_id', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('po_reference', sa.String(length=60), server_default='', nullable=False))
        batch_op.add_column(sa.Column('checkout_session_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('checkout_url', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_bookings_hold_expires_at'), ['hold_expires_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_bookings_checkout_session_id'), ['checkout_session_id'])



def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_bookings_checkout_session_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_bookings_hold_expires_at'))
        batch_op.drop_column('checkout_url')
        batch_op.drop_column('hold_expires_at')
        batch_op.drop_column('checkout_session_id')
        batch_op.drop_column('po_reference')
        batch_op.drop_column('vat_id')
        batch_op.drop_column('billing_address')

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_kind'))
        batch_op.drop_index(batch_op.f('ix_invoices_issued_on'))
        batch_op.drop_index(batch_op.f('ix_invoices_due_on'))
        batch_op.drop_index(batch_op.f('ix_invoices_booking_id'))

    op.drop_table('invoices')
    op.drop_table('stripe_events')
    op.drop_table('invoice_counters')
    op.drop_table('business_details')
