"""what each payment is, and its money movements

`payment_attempts` keeps each attempt to take the buyer's money (a Stripe charge, or a
verification that failed before one was made): card, checks, Radar, decline, as JSON read
from Stripe's answers and events. `money_movements` is the order's ledger: every capture,
released rest of a hold, void and refund, with who asked for it and its balance
transaction (fee and net in the settlement currency) once Stripe reports it.

Nothing existing changes: orders paid before this revision show their amounts as before,
and their details and ledger fill in as Stripe next reports on them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('attempt_key', sa.String(length=255), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payment_attempts_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_attempts')),
    sa.UniqueConstraint('attempt_key', name=op.f('uq_payment_attempts_attempt_key'))
    )
    op.create_index('ix_payment_attempts_order_id_id', 'payment_attempts', ['order_id', 'id'], unique=False)
    op.create_table('money_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('movement_key', sa.String(length=255), nullable=False),
    sa.Column('stripe_object_id', sa.String(length=255), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('failure_reason', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('balance_transaction_id', sa.String(length=255), nullable=True),
    sa.Column('balance', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_money_movements_actor_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_money_movements_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['stripe_requests.id'], name=op.f('fk_money_movements_request_id_stripe_requests'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_money_movements'))
    )
    op.create_index('ix_money_movements_order_id_id', 'money_movements', ['order_id', 'id'], unique=False)
    op.create_index('uq_money_movements_order_key', 'money_movements', ['order_id', 'movement_key'], unique=True)


def downgrade():
    op.drop_index('uq_money_movements_order_key', table_name='money_movements')
    op.drop_index('ix_money_movements_order_id_id', table_name='money_movements')
    op.drop_table('money_movements')
    op.drop_index('ix_payment_attempts_order_id_id', table_name='payment_attempts')
    op.drop_table('payment_attempts')
