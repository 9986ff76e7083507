"""beyond one capture: card features asked for and granted, several captures, increments

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

The shop's choices of card features are rows of the existing `settings` table; the features
granted are kept with each charge's facts (`payment_attempts.details`, JSON). What is new
in the schema: the per-order override, and the one-money-action-in-flight index taking the
new actions (partial capture, release of the rest, increment). Nothing here touches 0014's
tables.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OLD_WHERE = "status IN ('pending', 'unknown') AND action IN ('capture', 'void', 'refund')"
NEW_WHERE = (
    "status IN ('pending', 'unknown') AND action IN "
    "('capture', 'void', 'refund', 'partial_capture', 'release', 'increment')"
)


def _in_flight_index(where):
    op.drop_index('uq_stripe_requests_one_in_flight', table_name='stripe_requests')
    op.create_index(
        'uq_stripe_requests_one_in_flight',
        'stripe_requests',
        ['order_id'],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


# Plain ALTERs, not batch mode: rebuilding `orders` on SQLite would drop the name search's
# triggers (0009).
def upgrade():
    op.add_column('orders', sa.Column('card_requests', sa.JSON(), nullable=True))
    _in_flight_index(NEW_WHERE)


def downgrade():
    _in_flight_index(OLD_WHERE)
    op.drop_column('orders', 'card_requests')
