"""saved cards and re-authorization: a Stripe Customer per buyer email, the card an order
saved with the buyer's consent, a new authorization waiting for the buyer

`buyer_customers` maps a buyer email to its one Stripe Customer (unique on both, so two
pay pages of the same buyer at once cannot make two). Orders gain when the buyer agreed to
keep the card, the customer and saved card, and the PaymentIntent of a new authorization
the buyer must still confirm (a re-authorization the bank wants verified, or a new pay
link). The one-money-action-in-flight index now covers re-authorizing and new pay links,
so two clicks at once make one PaymentIntent.

Nothing existing changes: orders paid before this revision have no saved card.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# 0015's condition, and the same with re-authorizing and new pay links.
OLD_ACTIONS = (
    "status IN ('pending', 'unknown') AND action IN "
    "('capture', 'void', 'refund', 'partial_capture', 'release', 'increment')"
)
NEW_ACTIONS = (
    "status IN ('pending', 'unknown') AND action IN "
    "('capture', 'void', 'refund', 'partial_capture', 'release', 'increment', 'reauthorize', "
    "'new_pay_link')"
)
STRIPE_ID = sa.String(length=255).with_variant(
    sa.String(length=255, collation="C"), "postgresql"
)


def upgrade():
    op.create_table('buyer_customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buyer_customers')),
    sa.UniqueConstraint('email', name=op.f('uq_buyer_customers_email')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_buyer_customers_stripe_customer_id'))
    )
    # Plain ALTER TABLE, never a batch copy: rebuilding `orders` on SQLite would drop the
    # buyer-name search triggers 0009 made.
    op.add_column('orders', sa.Column('card_consent_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('orders', sa.Column('stripe_customer_id', sa.String(length=255), nullable=True))
    op.add_column('orders', sa.Column('saved_payment_method_id', sa.String(length=255), nullable=True))
    op.add_column('orders', sa.Column('renewal_payment_intent_id', STRIPE_ID, nullable=True))
    _one_in_flight(OLD_ACTIONS, NEW_ACTIONS)


def downgrade():
    _one_in_flight(NEW_ACTIONS, OLD_ACTIONS)
    for name in ('renewal_payment_intent_id', 'saved_payment_method_id', 'stripe_customer_id', 'card_consent_at'):
        # SQLite 3.35+ drops a column in place (the triggers stay); so does PostgreSQL.
        op.execute(f'ALTER TABLE orders DROP COLUMN {name}')
    op.drop_table('buyer_customers')


def _one_in_flight(before, after):
    with op.batch_alter_table('stripe_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_stripe_requests_one_in_flight', sqlite_where=sa.text(before), postgresql_where=sa.text(before))
        batch_op.create_index('uq_stripe_requests_one_in_flight', ['order_id'], unique=True, sqlite_where=sa.text(after), postgresql_where=sa.text(after))
