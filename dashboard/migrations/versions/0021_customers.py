"""customers: one per buyer email, their saved payment methods and timeline

`customers` keeps one row per normalised buyer email (unique), with its Stripe Customer id
once Stripe has one (unique, nullable: a buyer who paid without keeping a card has none).
It takes the place of `buyer_customers` (0016), whose rows it takes over. Orders gain a
nullable `customer_id`: the orders already paid (or whose buyer kept a card) are linked to
their buyer's customer, made here from the order's email and name. `saved_payment_methods`
holds each card a customer let the shop keep (the cards orders saved are copied in; their
brand and last 4 come with Stripe's next word on them). `customer_timeline_entries` is the
customer's timeline.

Customer names are searched by the start of each word as buyer names are (0009): a GIN
index on `to_tsvector('order_names', name)` on PostgreSQL, an FTS5 table kept by triggers
on SQLite. Email prefixes are a range of `(email, id)`, compared byte by byte.

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-07

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

STRIPE_ID = sa.String(length=255).with_variant(
    sa.String(length=255, collation="C"), "postgresql"
)
EMAIL = sa.String(length=254).with_variant(sa.String(length=254, collation="C"), "postgresql")
SQLITE_NAME_SEARCH = (
    "CREATE VIRTUAL TABLE customers_name_search USING fts5("
    "name, content='customers', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='1 2 3')",
    "CREATE TRIGGER customers_name_search_insert AFTER INSERT ON customers BEGIN "
    "INSERT INTO customers_name_search (rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER customers_name_search_delete AFTER DELETE ON customers BEGIN "
    "INSERT INTO customers_name_search (customers_name_search, rowid, name) "
    "VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER customers_name_search_update AFTER UPDATE OF name ON customers BEGIN "
    "INSERT INTO customers_name_search (customers_name_search, rowid, name) "
    "VALUES ('delete', old.id, old.name); "
    "INSERT INTO customers_name_search (rowid, name) VALUES (new.id, new.name); END",
)
# Orders whose buyer paid (a hold was placed) or kept a card.
PAID = "(o.authorized_at IS NOT NULL OR o.stripe_customer_id IS NOT NULL)"


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', EMAIL, nullable=False),
    sa.Column('name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('stripe_customer_id', STRIPE_ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stripe_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stripe_deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('default_payment_method_id', STRIPE_ID, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('email', name=op.f('uq_customers_email')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_customers_stripe_customer_id'))
    )
    op.create_index('ix_customers_email_id', 'customers', ['email', 'id'], unique=False)
    op.create_table('saved_payment_methods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('stripe_payment_method_id', STRIPE_ID, nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('brand', sa.String(length=32), nullable=True),
    sa.Column('last4', sa.String(length=4), nullable=True),
    sa.Column('exp_month', sa.SmallInteger(), nullable=True),
    sa.Column('exp_year', sa.SmallInteger(), nullable=True),
    sa.Column('wallet', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stripe_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_saved_payment_methods_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_payment_methods')),
    sa.UniqueConstraint('stripe_payment_method_id', name=op.f('uq_saved_payment_methods_stripe_payment_method_id'))
    )
    op.create_index('ix_saved_payment_methods_customer_id_id', 'saved_payment_methods', ['customer_id', 'id'], unique=False)
    op.create_table('customer_timeline_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('stripe_event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_customer_timeline_entries_actor_id_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_timeline_entries_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stripe_event_id'], ['stripe_events.id'], name=op.f('fk_customer_timeline_entries_stripe_event_id_stripe_events'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_timeline_entries'))
    )
    op.create_index('ix_customer_timeline_entries_customer_id_id', 'customer_timeline_entries', ['customer_id', 'id'], unique=False)
    # Plain ALTER TABLE, never a batch copy: rebuilding `orders` on SQLite would drop the
    # buyer-name search triggers 0009 made.
    if postgresql:
        op.add_column('orders', sa.Column('customer_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_orders_customer_id_customers'), 'orders', 'customers', ['customer_id'], ['id'])
    else:
        op.execute(
            'ALTER TABLE orders ADD COLUMN customer_id INTEGER '
            'CONSTRAINT fk_orders_customer_id_customers REFERENCES customers (id)'
        )
    op.create_index('ix_orders_customer_id_id', 'orders', ['customer_id', 'id'], unique=False)
    if postgresql:
        op.execute(
            'CREATE INDEX ix_customers_name_words ON customers '
            "USING gin (to_tsvector('order_names'::regconfig, name)) WITH (fastupdate = off)"
        )
    else:
        for statement in SQLITE_NAME_SEARCH:
            op.execute(statement)
    _take_over_buyer_customers()
    op.drop_table('buyer_customers')


def _take_over_buyer_customers():
    op.execute(
        'INSERT INTO customers (email, name, stripe_customer_id, created_at, updated_at) '
        "SELECT email, '', stripe_customer_id, created_at, created_at FROM buyer_customers"
    )
    op.execute(
        'INSERT INTO customers (email, name, created_at, updated_at) '
        'SELECT o.buyer_email, MAX(o.buyer_name), MIN(o.created_at), MIN(o.created_at) '
        f'FROM orders o WHERE {PAID} '
        'AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.email = o.buyer_email) '
        'GROUP BY o.buyer_email'
    )
    # A buyer_customers row had no name: the name of the buyer's latest paid order.
    op.execute(
        "UPDATE customers SET name = COALESCE((SELECT o.buyer_name FROM orders o "
        f"WHERE o.buyer_email = customers.email AND {PAID} ORDER BY o.id DESC LIMIT 1), '') "
        "WHERE name = ''"
    )
    op.execute(
        'UPDATE orders SET customer_id = '
        '(SELECT c.id FROM customers c WHERE c.email = orders.buyer_email) '
        'WHERE authorized_at IS NOT NULL OR stripe_customer_id IS NOT NULL'
    )
    op.execute(
        'INSERT INTO saved_payment_methods '
        '(customer_id, stripe_payment_method_id, type, status, consent_at, source, created_at) '
        "SELECT o.customer_id, o.saved_payment_method_id, 'card', 'attached', o.card_consent_at, "
        "'order', COALESCE(o.card_consent_at, o.created_at) FROM orders o "
        'WHERE o.id IN (SELECT MIN(id) FROM orders WHERE saved_payment_method_id IS NOT NULL '
        'AND customer_id IS NOT NULL GROUP BY saved_payment_method_id)'
    )


def downgrade():
    op.create_table('buyer_customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buyer_customers')),
    sa.UniqueConstraint('email', name=op.f('uq_buyer_customers_email')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_buyer_customers_stripe_customer_id'))
    )
    op.execute(
        'INSERT INTO buyer_customers (email, stripe_customer_id, created_at) '
        'SELECT email, stripe_customer_id, created_at FROM customers '
        'WHERE stripe_customer_id IS NOT NULL'
    )
    op.drop_index('ix_orders_customer_id_id', table_name='orders')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('fk_orders_customer_id_customers'), 'orders', type_='foreignkey')
        op.execute('DROP INDEX ix_customers_name_words')
    else:
        for trigger in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER customers_name_search_{trigger}')
        op.execute('DROP TABLE customers_name_search')
    # SQLite 3.35+ drops a column in place (the triggers stay); so does PostgreSQL.
    op.execute('ALTER TABLE orders DROP COLUMN customer_id')
    op.drop_index('ix_customer_timeline_entries_customer_id_id', table_name='customer_timeline_entries')
    op.drop_table('customer_timeline_entries')
    op.drop_index('ix_saved_payment_methods_customer_id_id', table_name='saved_payment_methods')
    op.drop_table('saved_payment_methods')
    op.drop_index('ix_customers_email_id', table_name='customers')
    op.drop_table('customers')
