"""order events to agents

`agent_webhooks` holds each ACP order event (`order_create`, `order_update`) written for the
agent that placed an order, in the transaction that changed the order; `flask outbox relay`
signs and POSTs it to the agent's webhook URL, one order's events in order.
`agent_webhook_attempts` records every attempt (the HTTP status or the error). New tables
only: nothing existing changes.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agent_webhooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('checkout_session_id', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_webhooks_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_agent_webhooks_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_webhooks'))
    )
    with op.batch_alter_table('agent_webhooks', schema=None) as batch_op:
        batch_op.create_index('ix_agent_webhooks_order_id_id', ['order_id', 'id'], unique=False)
        batch_op.create_index('ix_agent_webhooks_waiting', ['next_attempt_at', 'id'], unique=False, sqlite_where=sa.text('delivered_at IS NULL AND stopped_at IS NULL'), postgresql_where=sa.text('delivered_at IS NULL AND stopped_at IS NULL'))

    op.create_table('agent_webhook_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=False),
    sa.Column('relay', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('answer', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['webhook_id'], ['agent_webhooks.id'], name=op.f('fk_agent_webhook_attempts_webhook_id_agent_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_webhook_attempts'))
    )
    with op.batch_alter_table('agent_webhook_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_webhook_attempts_webhook_id'), ['webhook_id'], unique=False)



def downgrade():
    with op.batch_alter_table('agent_webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_webhook_attempts_webhook_id'))

    op.drop_table('agent_webhook_attempts')
    with op.batch_alter_table('agent_webhooks', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_webhooks_waiting', sqlite_where=sa.text('delivered_at IS NULL AND stopped_at IS NULL'), postgresql_where=sa.text('delivered_at IS NULL AND stopped_at IS NULL'))
        batch_op.drop_index('ix_agent_webhooks_order_id_id')

    op.drop_table('agent_webhooks')
