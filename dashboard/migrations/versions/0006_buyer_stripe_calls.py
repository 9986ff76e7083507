"""buyer stripe calls: what bounds a pay link's calls to Stripe

`GET /pay/<token>/done` re-read Stripe on every request (20 anonymous requests, 20 API
calls). Each buyer request let through to Stripe is now a row: an order is re-read at
most once per PAY_REREAD_INTERVAL, and one pay link or one address may reach Stripe only
so often per PAY_STRIPE_CALL_WINDOW, in every worker at once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('buyer_stripe_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('link_digest', sa.String(length=64), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_buyer_stripe_calls_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buyer_stripe_calls'))
    )
    with op.batch_alter_table('buyer_stripe_calls', schema=None) as batch_op:
        batch_op.create_index('ix_buyer_stripe_calls_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_buyer_stripe_calls_link_created', ['link_digest', 'created_at'], unique=False)
        batch_op.create_index('ix_buyer_stripe_calls_order_kind_created', ['order_id', 'kind', 'created_at'], unique=False)
        batch_op.create_index('ix_buyer_stripe_calls_remote_created', ['remote_addr', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('buyer_stripe_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_buyer_stripe_calls_remote_created')
        batch_op.drop_index('ix_buyer_stripe_calls_order_kind_created')
        batch_op.drop_index('ix_buyer_stripe_calls_link_created')
        batch_op.drop_index('ix_buyer_stripe_calls_created_at')

    op.drop_table('buyer_stripe_calls')
