"""event log health panel index: (type, last_received_at)

The health panel shows when each event type last arrived. As a GROUP BY over the inbox it
read every row (a million rows: the whole table, on every event log page). It now walks
the distinct types off the (type, id) index and reads each type's latest arrival off
this index: a few index probes per type, whatever the table's size.

Revision ID: 0025
Revises: 0017
Create Date: 2026-12-07

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index(
            'ix_stripe_events_type_last_received_at', ['type', 'last_received_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_type_last_received_at')
