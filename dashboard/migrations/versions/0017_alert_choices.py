"""each person's choice of alert emails

`alert_choices` keeps what a person chose for one kind of alert (a hold about to run out, a
hold that ran out, a dispute, a failing Stripe event). Without a row the role's default
applies, so nobody's alerts change with this revision.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_choices',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_alert_choices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_alert_choices'))
    )


def downgrade():
    op.drop_table('alert_choices')
