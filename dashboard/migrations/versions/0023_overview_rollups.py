"""the home page's rollups, and the indexes its other figures read

`overview_buckets` keeps each quarter hour's captured, refunded, fees, net and payment
attempts per currency; `overview_declines` the failed attempts per reason. Both start
empty here: `flask overview rebuild` fills them from the ledger and the attempts already
stored (until then the home page shows only what happens after the upgrade). The disputes
index finds the open ones by their evidence deadline without reading the closed ones.

Revision ID: 0023
Revises: 0017
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('overview_buckets',
    sa.Column('bucket_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('captured', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('captures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('refunded', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('refunds', sa.Integer(), server_default='0', nullable=False),
    sa.Column('fee', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('net', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('fees_unreported', sa.Integer(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('authorized', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('bucket_start', 'currency', name=op.f('pk_overview_buckets'))
    )
    op.create_table('overview_declines',
    sa.Column('bucket_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('bucket_start', 'currency', 'reason', name=op.f('pk_overview_declines'))
    )
    op.create_index('ix_disputes_status_evidence_due_by', 'disputes', ['status', 'evidence_due_by'], unique=False)
    op.create_index('ix_money_movements_kind_currency_occurred_at', 'money_movements', ['kind', 'currency', 'occurred_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_money_movements_kind_currency_occurred_at', table_name='money_movements')
    op.drop_index('ix_disputes_status_evidence_due_by', table_name='disputes')
    op.drop_table('overview_declines')
    op.drop_table('overview_buckets')
