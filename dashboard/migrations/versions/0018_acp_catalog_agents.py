"""selling to AI agents: the product catalog, registered agents, orders placed by an agent

`products` is the catalog (an id that is safe in URLs, a price in minor units, an active
flag, an optional stock). `agents` are the AI agents an admin registered for the checkout
API: the API key kept only as its SHA-256 and a short prefix, the webhook URL, the two
secrets the dashboard must use (sealed with a key derived from SECRET_KEY), a rate limit
per minute, and when the key was revoked. `agent_request_counts` counts each agent's
requests per minute for that limit, shared by every worker. `orders.agent_id` names the
agent that placed an order; orders made before this revision were made by staff (NULL).

The column is added with a plain ALTER, not batch mode: rebuilding `orders` on SQLite
would drop the name search's triggers (0009). SQLite cannot drop a column that is part of
a foreign key, so the downgrade there rebuilds `orders` and makes 0009's triggers again.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('products',
    sa.Column('id', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('unit_amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_products_stock_not_negative')),
    sa.CheckConstraint('unit_amount > 0', name=op.f('ck_products_unit_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products'))
    )
    op.create_index('ix_products_active_id', 'products', ['active', 'id'], unique=False)
    op.create_table('agents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('webhook_url', sa.String(length=2048), nullable=False),
    sa.Column('webhook_secret_sealed', sa.Text(), nullable=False),
    sa.Column('signing_key_sealed', sa.Text(), nullable=True),
    sa.Column('rate_limit_per_minute', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('rate_limit_per_minute > 0', name=op.f('ck_agents_rate_limit_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_agents_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_agents_name'))
    )
    op.create_table('agent_request_counts',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_request_counts_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', 'minute', name=op.f('pk_agent_request_counts'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('orders', sa.Column('agent_id', sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f('fk_orders_agent_id_agents'), 'orders', 'agents', ['agent_id'], ['id']
        )
    else:
        # SQLite takes a foreign key only inline in ADD COLUMN (Alembic would ALTER it).
        op.execute(
            'ALTER TABLE orders ADD COLUMN agent_id INTEGER '
            'CONSTRAINT fk_orders_agent_id_agents REFERENCES agents (id)'
        )


def _name_search_0009():
    """0009's SQLite name-search statements (its FTS table, triggers and rebuild)."""
    path = Path(__file__).with_name('0009_order_list_search.py')
    spec = importlib.util.spec_from_file_location('revision_0009', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SQLITE_NAME_SEARCH


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('fk_orders_agent_id_agents'), 'orders', type_='foreignkey')
        op.drop_column('orders', 'agent_id')
    else:
        for trigger in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER orders_name_search_{trigger}')
        op.execute('DROP TABLE orders_name_search')
        with op.batch_alter_table('orders', schema=None) as batch_op:
            batch_op.drop_column('agent_id')
        for statement in _name_search_0009():
            op.execute(statement)
    op.drop_table('agent_request_counts')
    op.drop_table('agents')
    op.drop_index('ix_products_active_id', table_name='products')
    op.drop_table('products')
