"""agents' checkout sessions, their Idempotency-Keys and their requests

`agent_checkout_sessions` holds an agent's cart (lines priced from the catalog, buyer,
fulfillment details, messages) and, once completed, its order. `agent_idempotency_keys`
keeps each Idempotency-Key an agent sent, per endpoint: a fingerprint of the body (never
the body) and the answer to replay; the unique key makes concurrent requests with one key
find each other. `agent_checkout_requests` lists every request made about a session, for
the order's timeline.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agent_checkout_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('buyer', sa.JSON(), nullable=True),
    sa.Column('fulfillment_details', sa.JSON(), nullable=True),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_checkout_sessions_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_agent_checkout_sessions_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_checkout_sessions'))
    )
    op.create_index('ix_agent_checkout_sessions_agent_id_created_at', 'agent_checkout_sessions', ['agent_id', 'created_at'], unique=False)
    op.create_index('ix_agent_checkout_sessions_order_id', 'agent_checkout_sessions', ['order_id'], unique=False)
    op.create_table('agent_idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=255), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_idempotency_keys_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_idempotency_keys')),
    sa.UniqueConstraint('agent_id', 'endpoint', 'idempotency_key', name='uq_agent_idempotency_keys')
    )
    op.create_table('agent_checkout_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['agent_checkout_sessions.id'], name=op.f('fk_agent_checkout_requests_session_id_agent_checkout_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_checkout_requests'))
    )
    op.create_index('ix_agent_checkout_requests_session_id_id', 'agent_checkout_requests', ['session_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_agent_checkout_requests_session_id_id', table_name='agent_checkout_requests')
    op.drop_table('agent_checkout_requests')
    op.drop_table('agent_idempotency_keys')
    op.drop_index('ix_agent_checkout_sessions_order_id', table_name='agent_checkout_sessions')
    op.drop_index('ix_agent_checkout_sessions_agent_id_created_at', table_name='agent_checkout_sessions')
    op.drop_table('agent_checkout_sessions')
