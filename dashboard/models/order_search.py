"""The buyer-name search index, kept outside the models' metadata (migration 0009 makes it).

PostgreSQL: a GIN index on `to_tsvector('order_names', buyer_name)` (`order_names` is the
`simple` text search configuration after `unaccent`). SQLite: the FTS5 table
`orders_name_search` over `orders.buyer_name`, kept in step by three triggers on `orders`.
A later migration that rebuilds `orders` on SQLite (a batch "move and copy") drops those
triggers with the old table, and must create them again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, column, func, literal_column, table
from sqlalchemy.orm import QueryableAttribute

# SQLite: the FTS5 table (and, named after it, its shadow tables and triggers).
NAME_SEARCH_TABLE = "orders_name_search"
name_search = table(NAME_SEARCH_TABLE, column("rowid"), column(NAME_SEARCH_TABLE))

# PostgreSQL: the configuration and the index on the expression `buyer_name_words`.
NAME_SEARCH_CONFIG = "order_names"
NAME_SEARCH_INDEX = "ix_orders_buyer_name_words"
# Customers' names, searched the same way: `customers_name_search` (SQLite, FTS5) and a
# GIN index on `to_tsvector('order_names', customers.name)` (PostgreSQL).
CUSTOMER_SEARCH_TABLE = "customers_name_search"
customer_name_search = table(CUSTOMER_SEARCH_TABLE, column("rowid"), column(CUSTOMER_SEARCH_TABLE))
CUSTOMER_SEARCH_INDEX = "ix_customers_name_words"
SEARCH_TABLES = (NAME_SEARCH_TABLE, CUSTOMER_SEARCH_TABLE)
SEARCH_INDEXES = frozenset({NAME_SEARCH_INDEX, CUSTOMER_SEARCH_INDEX})
_CONFIG: ColumnElement[Any] = literal_column(f"'{NAME_SEARCH_CONFIG}'::regconfig")


def buyer_name_words(name: QueryableAttribute[str]) -> ColumnElement[Any]:
    """The indexed expression, of `orders.buyer_name` or an alias's: spelt as in the index
    (the configuration a constant, not a parameter), so that the planner matches the two."""
    return func.to_tsvector(_CONFIG, name)


def name_query(prefixes: str) -> ColumnElement[Any]:
    """A tsquery in the index's configuration, from text such as `'ada':* & 'lov':*`."""
    return func.to_tsquery(_CONFIG, prefixes)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: the search indexes' objects (orders' buyer names, customers' names,
    migration 0021) are no model's, and are no drift."""
    if type_ == "table" and name is not None and name.startswith(SEARCH_TABLES):
        return False
    return not (type_ == "index" and name in SEARCH_INDEXES)
