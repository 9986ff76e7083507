"""subscriptions: plans, subscriptions, their invoices, staff requests and timeline

`plans` keeps each plan with its Stripe product and price; `subscriptions` each buyer's
subscription as Stripe last reported it (with which report that was, so a late event
never takes it back); `subscription_invoices` its invoices; `subscription_requests` the
staff's cancel requests with their idempotency keys (one in flight per subscription);
`subscription_entries` its timeline. An outbox event may now concern no order (a
subscription's renewal), so `outbox_events.order_id` takes NULL.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('interval_count', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('stripe_product_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_price_id', sa.String(length=255), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_plans_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('stripe_price_id', name=op.f('uq_plans_stripe_price_id')),
    sa.UniqueConstraint('stripe_product_id', name=op.f('uq_plans_stripe_product_id'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('buyer_email', sa.String(length=254), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trial_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('default_payment_method', sa.String(length=255), nullable=True),
    sa.Column('report_ended', sa.Boolean(), nullable=False),
    sa.Column('report_period_start', sa.BigInteger(), nullable=False),
    sa.Column('report_said_at', sa.BigInteger(), nullable=False),
    sa.Column('report_rank', sa.Integer(), nullable=False),
    sa.Column('report_event_id', sa.String(length=255), nullable=False),
    sa.Column('renewal_failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_subscriptions_plan_id_plans')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_subscriptions_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_subscriptions_stripe_subscription_id'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_buyer_email', ['buyer_email'], unique=False)
        batch_op.create_index('ix_subscriptions_customer_id_id', ['customer_id', 'id'], unique=False)
        batch_op.create_index('ix_subscriptions_stripe_customer_id', ['stripe_customer_id'], unique=False)

    op.create_table('subscription_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_subscription_entries_actor_id_users')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_entries_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_entries'))
    )
    with op.batch_alter_table('subscription_entries', schema=None) as batch_op:
        batch_op.create_index('ix_subscription_entries_subscription_id_id', ['subscription_id', 'id'], unique=False)

    op.create_table('subscription_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('amount_due', sa.BigInteger(), nullable=False),
    sa.Column('amount_paid', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('billing_reason', sa.String(length=40), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('charge_id', sa.String(length=255), nullable=True),
    sa.Column('payment_failed', sa.Boolean(), nullable=False),
    sa.Column('failure_message', sa.String(length=500), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_invoices_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_invoices')),
    sa.UniqueConstraint('stripe_invoice_id', name=op.f('uq_subscription_invoices_stripe_invoice_id'))
    )
    with op.batch_alter_table('subscription_invoices', schema=None) as batch_op:
        batch_op.create_index('ix_subscription_invoices_subscription_id_id', ['subscription_id', 'id'], unique=False)

    op.create_table('subscription_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_subscription_requests_actor_id_users')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_requests_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_requests')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_subscription_requests_idempotency_key'))
    )
    with op.batch_alter_table('subscription_requests', schema=None) as batch_op:
        batch_op.create_index('uq_subscription_requests_one_in_flight', ['subscription_id'], unique=True, sqlite_where=sa.text("status IN ('pending', 'unknown')"), postgresql_where=sa.text("status IN ('pending', 'unknown')"))

    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.alter_column('order_id',
               existing_type=sa.INTEGER(),
               nullable=True)



def downgrade():
    op.execute("DELETE FROM outbox_events WHERE order_id IS NULL")
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.alter_column('order_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    with op.batch_alter_table('subscription_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_subscription_requests_one_in_flight', sqlite_where=sa.text("status IN ('pending', 'unknown')"), postgresql_where=sa.text("status IN ('pending', 'unknown')"))

    op.drop_table('subscription_requests')
    with op.batch_alter_table('subscription_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_subscription_invoices_subscription_id_id')

    op.drop_table('subscription_invoices')
    with op.batch_alter_table('subscription_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_subscription_entries_subscription_id_id')

    op.drop_table('subscription_entries')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_stripe_customer_id')
        batch_op.drop_index('ix_subscriptions_buyer_email')
        batch_op.drop_index('ix_subscriptions_customer_id_id')

    op.drop_table('subscriptions')
    op.drop_table('plans')
