"""capture queue index: (state, capture_before, id)

The capture queue orders authorized holds by deadline, then by id. On (state,
capture_before) PostgreSQL read every authorized order to sort the ties (all the holds
without a deadline are one tie): 155 ms at a million orders for the order list's first
page. With id in the index the queue is read in order and stops at its limit.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_state_capture_before_id', ['state', 'capture_before', 'id'], unique=False)
        batch_op.drop_index('ix_orders_state_capture_before')


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_state_capture_before', ['state', 'capture_before'], unique=False)
        batch_op.drop_index('ix_orders_state_capture_before_id')
