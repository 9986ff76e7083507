"""dispute evidence, and the indexes of the disputes page and the exports

`disputes` gains what Stripe says of its evidence (has_evidence, submission_count,
past_due), the evidence staff saved (text by field, file ids) and when it was submitted;
an index by evidence deadline for the Disputes page, and by opening time for its export.
`money_movements` gains an index by time for the payments export.

Revision ID: 0024
Revises: 0017
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('has_evidence', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('submission_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('past_due', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('evidence', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('evidence_files', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('evidence_submitted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('evidence_saves', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index('ix_disputes_evidence_due_by_id', ['evidence_due_by', 'id'], unique=False)
        batch_op.create_index('ix_disputes_created_at_id', ['created_at', 'id'], unique=False)
    op.create_index('ix_money_movements_occurred_at_id', 'money_movements', ['occurred_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_money_movements_occurred_at_id', table_name='money_movements')
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disputes_created_at_id')
        batch_op.drop_index('ix_disputes_evidence_due_by_id')
        batch_op.drop_column('evidence_saves')
        batch_op.drop_column('evidence_submitted_at')
        batch_op.drop_column('evidence_files')
        batch_op.drop_column('evidence')
        batch_op.drop_column('past_due')
        batch_op.drop_column('submission_count')
        batch_op.drop_column('has_evidence')
