"""the order list: buyer-name search index, Stripe id prefixes, created-date range

The order list searches buyer names by the start of each word typed, in any order, in
any case and without accents ("ada lov" finds "Ada Lovelace", "emi" finds "Émile"):

- PostgreSQL: a GIN index on `to_tsvector('order_names', buyer_name)`, where
  `order_names` is the `simple` text search configuration with `unaccent` before it (a
  trusted extension since PostgreSQL 13: the database owner can create it). A prefix
  query (`'lov':*`) is a range over the index's words, so a name search never reads the
  table whole, however short the word. `fastupdate` is off: orders arrive one at a time,
  and a pending list (up to 4 MB, until a vacuum) is read whole by every search: 15 ms of
  a 15.1 ms search at a million orders, measured.
- SQLite: an FTS5 table over `orders.buyer_name` (external content, `unicode61` folding
  case and removing diacritics), kept in step by triggers on insert, delete and a change
  of name, and filled here from the orders already stored.

These objects are outside the models' metadata; `dashboard/models/order_search.py` names
them and tells autogenerate to leave them alone.

The Stripe id columns are compared byte by byte ("C") on PostgreSQL, as SQLite does and
as `buyer_email` already is, so that the start of an id is a range scan of its index.

`(created_at, id)` finds the first order created at or after a moment in one index read:
the created-date filter turns its days into a range of ids that way.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

STRIPE_ID_COLUMNS = ('stripe_payment_intent_id', 'stripe_checkout_session_id', 'stripe_charge_id')
# Every token type of the default parser that can be part of a name.
NAME_TOKENS = (
    'asciiword, word, numword, asciihword, hword, numhword, '
    'hword_asciipart, hword_part, hword_numpart'
)
SQLITE_NAME_SEARCH = (
    "CREATE VIRTUAL TABLE orders_name_search USING fts5("
    "buyer_name, content='orders', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='1 2 3')",
    "CREATE TRIGGER orders_name_search_insert AFTER INSERT ON orders BEGIN "
    "INSERT INTO orders_name_search (rowid, buyer_name) VALUES (new.id, new.buyer_name); END",
    "CREATE TRIGGER orders_name_search_delete AFTER DELETE ON orders BEGIN "
    "INSERT INTO orders_name_search (orders_name_search, rowid, buyer_name) "
    "VALUES ('delete', old.id, old.buyer_name); END",
    "CREATE TRIGGER orders_name_search_update AFTER UPDATE OF buyer_name ON orders BEGIN "
    "INSERT INTO orders_name_search (orders_name_search, rowid, buyer_name) "
    "VALUES ('delete', old.id, old.buyer_name); "
    "INSERT INTO orders_name_search (rowid, buyer_name) VALUES (new.id, new.buyer_name); END",
    "INSERT INTO orders_name_search (orders_name_search) VALUES ('rebuild')",
)


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_created_at_id', ['created_at', 'id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        for column in STRIPE_ID_COLUMNS:
            op.alter_column(
                'orders',
                column,
                type_=sa.String(length=255, collation='C'),
                existing_type=sa.String(length=255),
                existing_nullable=True,
            )
        op.execute('CREATE EXTENSION IF NOT EXISTS unaccent')
        op.execute('CREATE TEXT SEARCH CONFIGURATION order_names (COPY = simple)')
        op.execute(
            f'ALTER TEXT SEARCH CONFIGURATION order_names '
            f'ALTER MAPPING FOR {NAME_TOKENS} WITH unaccent, simple'
        )
        op.execute(
            'CREATE INDEX ix_orders_buyer_name_words ON orders '
            "USING gin (to_tsvector('order_names'::regconfig, buyer_name)) "
            'WITH (fastupdate = off)'
        )
    else:
        for statement in SQLITE_NAME_SEARCH:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_orders_buyer_name_words')
        op.execute('DROP TEXT SEARCH CONFIGURATION order_names')
        op.execute('DROP EXTENSION IF EXISTS unaccent')
        for column in STRIPE_ID_COLUMNS:
            op.alter_column(
                'orders',
                column,
                type_=sa.String(length=255),
                existing_type=sa.String(length=255, collation='C'),
                existing_nullable=True,
            )
    else:
        for trigger in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER orders_name_search_{trigger}')
        op.execute('DROP TABLE orders_name_search')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_created_at_id')
