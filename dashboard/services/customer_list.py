"""The Customers page: newest first, or by the start of an email or of a name's words,
keyset-paginated like the order list, each condition an index's (fast at a million)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, CompoundSelect, Select, any_, false, func, select
from sqlalchemy.orm import aliased

from dashboard.domain.name_search import (
    MAX_NAME_WORDS,
    fts5_query,
    name_words,
    search_words,
    tsquery,
)
from dashboard.extensions import db
from dashboard.models import Customer
from dashboard.models.order_search import (
    CUSTOMER_SEARCH_TABLE,
    buyer_name_words,
    customer_name_search,
    name_query,
)
from dashboard.services.order_search import email_starts_with
from dashboard.services.pagination import Page, newest_first

_BY_EMAIL = aliased(Customer, name="by_email")
_BY_NAME = aliased(Customer, name="by_name")


def list_customers(
    *, search: str, older_than: int | None, newer_than: int | None, per_page: int
) -> Page[Customer]:
    """One page of customers, newest first, matching `search` (stripped) if it is given.
    TooManyWords if a name search has more words than it takes."""
    query = select(Customer)
    if search:
        query = query.where(search_condition(search))
    return newest_first(
        query, Customer.id, older_than=older_than, newer_than=newer_than, per_page=per_page
    )


def search_condition(text: str) -> ColumnElement[bool]:
    """Customers whose email starts with `text` (only those if it has an @), or whose name
    has a word starting with each of its words, in any order (`ada lov`). Either way the
    matching ids are found first, off the email and name indexes, then the page is read
    newest first off the primary key: what a search costs grows with its matches, never
    with the table (as the order list's does). TooManyWords past MAX_NAME_WORDS."""
    by_email = select(_BY_EMAIL.id).where(email_starts_with(text, _BY_EMAIL.email))
    if "@" in text:
        return _id_among(by_email)
    spaced = any(character.isspace() for character in text)  # no email has a space
    words = search_words(text) if spaced else name_words(text)
    if spaced:
        return _id_among(_name_ids(words))
    if not words or len(words) > MAX_NAME_WORDS:
        return _id_among(by_email)
    return _id_among(by_email.union_all(_name_ids(words)))


def _name_ids(words: list[str]) -> Select[int]:
    if not words:
        return select(_BY_NAME.id).where(false())
    if _postgres():
        return select(_BY_NAME.id).where(
            buyer_name_words(_BY_NAME.name).bool_op("@@")(name_query(tsquery(words)))
        )
    column = getattr(customer_name_search.c, CUSTOMER_SEARCH_TABLE)
    return select(customer_name_search.c.rowid).where(column.op("MATCH")(fts5_query(words)))


def _id_among(ids: Select[int] | CompoundSelect[int]) -> ColumnElement[bool]:
    """As the order list does (services/order_search.py): the matching ids found first,
    then the page read newest first off the primary key."""
    if _postgres():
        return Customer.id == any_(func.array(ids.scalar_subquery()))
    return Customer.id.in_(ids)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"
