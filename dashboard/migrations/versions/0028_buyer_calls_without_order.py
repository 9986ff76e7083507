"""buyer Stripe calls without an order: save-a-card and subscribe links are counted too

A buyer's save-a-card link and subscribe link reach Stripe on the merchant's account
(a SetupIntent, a Checkout Session, a billing portal session) like a pay link does, and
are now bounded by the same per-link and per-address limits. They name a customer or a
plan, not an order, so a counted call's order is now optional.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('buyer_stripe_calls', schema=None) as batch_op:
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM buyer_stripe_calls WHERE order_id IS NULL")
    with op.batch_alter_table('buyer_stripe_calls', schema=None) as batch_op:
        batch_op.alter_column('order_id', existing_type=sa.Integer(), nullable=False)
