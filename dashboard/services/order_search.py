"""What the order list searches and filters by, each a condition an index serves on SQLite
and PostgreSQL alike: an order number, the start of a Stripe id, the start of a buyer
email, the starts of a buyer name's words, a created-date range."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    any_,
    false,
    func,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, aliased

from dashboard.domain.emails import normalize_email
from dashboard.domain.ids import MAX_ROW_ID, parse_order_number
from dashboard.domain.name_search import (
    MAX_NAME_WORDS,
    fts5_query,
    name_words,
    search_words,
    tsquery,
)
from dashboard.extensions import db
from dashboard.models import Order
from dashboard.models.order_search import (
    NAME_SEARCH_TABLE,
    buyer_name_words,
    name_query,
    name_search,
)

# The orders a subquery reads, named for what it looks for (made once: making an alias
# costs more than a short query).
_BY_EMAIL = aliased(Order, name="by_email")
_BY_NAME = aliased(Order, name="by_name")
_CREATED = aliased(Order, name="created")

# The start of a Stripe id names the column it is looked up in.
STRIPE_ID_COLUMNS: dict[str, InstrumentedAttribute[str | None]] = {
    "pi_": Order.stripe_payment_intent_id,
    "cs_": Order.stripe_checkout_session_id,
    "ch_": Order.stripe_charge_id,
    "py_": Order.stripe_charge_id,
}


def search_condition(text: str) -> ColumnElement[bool]:
    """What `text` (stripped, not empty) finds: the order of that number (`#42`, `42`);
    orders whose Stripe id starts with it (`pi_3Mt`); orders whose buyer email starts with
    it (if it has an @, only those); orders whose buyer name has a word starting with each
    of its words, in any order (`ada lov`). One word without an @ is looked up as both.
    TooManyWords if words with spaces between them are more than a name search takes."""
    number = parse_order_number(text)
    if number is not None:
        return Order.id == number if number <= MAX_ROW_ID else false()
    for prefix, column in STRIPE_ID_COLUMNS.items():
        if text.startswith(prefix):
            return starts_with(column, text)
    if "@" in text:
        return email_starts_with(text)
    if any(character.isspace() for character in text):  # no email has a space
        return _name_has(search_words(text))
    # One word: the start of an email, or of a name's words (it may hold several, as
    # o'brien does; more than a name has are an email's, a.b.c.d.e.f.g.h.i).
    words = name_words(text)
    if not words or len(words) > MAX_NAME_WORDS:
        return email_starts_with(text)
    return _email_or_name(text, words)


def _email_or_name(text: str, words: list[str]) -> ColumnElement[bool]:
    """Orders whose email starts with `text` or whose name has `words`: the ids each index
    holds, together (an OR would read and sort the row of every match on SQLite)."""
    by_email = select(_BY_EMAIL.id).where(email_starts_with(text, _BY_EMAIL.buyer_email))
    return _id_among(by_email.union_all(_name_ids(words)))


def _after_every_extension_of(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (code point
    order, which both databases use for the email and Stripe id columns), or None if there
    is none."""
    # Nothing follows U+10FFFF: such a last character is dropped and the one before raised.
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no text either database can store
        following = 0xE000
    return stem[:-1] + chr(following)


def starts_with(column: InstrumentedAttribute[str | None], prefix: str) -> ColumnElement[bool]:
    """Values of a byte-ordered ("C") column that start with `prefix`: a range, rather than
    LIKE, so that it is a range scan of the column's index on both databases."""
    upper = _after_every_extension_of(prefix)
    if upper is None:
        return column >= prefix
    return and_(column >= prefix, column < upper)


def email_starts_with(
    text: str, column: InstrumentedAttribute[str] = Order.buyer_email
) -> ColumnElement[bool]:
    """Buyer emails starting with `text` (any case): a range on the (buyer_email, id)
    index."""
    # Typed as the stored addresses are written, so a full-width ADA finds ada@….
    prefix = normalize_email(text)
    if not prefix:
        return false()
    return starts_with(column, prefix)


def _name_has(words: list[str]) -> ColumnElement[bool]:
    """Buyer names with a word starting with each of `words` (any order, any case, accents
    ignored), looked up in the name index of the database in use; none if no words."""
    if not words:
        return false()
    return _id_among(_name_ids(words))


def _name_ids(words: list[str]) -> Select[int]:
    """The ids of the orders whose name has `words`, from the database's name index."""
    if _postgres():
        words_query = name_query(tsquery(words))
        return select(_BY_NAME.id).where(
            buyer_name_words(_BY_NAME.buyer_name).bool_op("@@")(words_query)
        )
    matching = getattr(name_search.c, NAME_SEARCH_TABLE).op("MATCH")(fts5_query(words))
    return select(name_search.c.rowid).where(matching)


def _id_among(ids: Select[int] | CompoundSelect[int]) -> ColumnElement[bool]:
    """Orders whose id is one of `ids`, all found first, then read newest first off the
    primary key, stopping at the page's end: what a name search costs grows with its
    matches, never with the table.

    On PostgreSQL an array of them, computed once before the page is read. Given the name
    condition itself (or `IN`), the planner may walk every id newest first testing each
    row instead: it never believes a prefix search matches fewer than about 1 row in 200,
    so with a LIMIT the walk looks cheap. A search 100 old orders match took 3.4 s that
    way at a million orders, and 30 ms as an array."""
    if _postgres():
        return Order.id == any_(func.array(ids.scalar_subquery()))
    return Order.id.in_(ids)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def created_between(start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    """Orders created from `start` (included) to `end` (excluded), as a range of ids: ids
    grow with `created_at` (both are set as the row is inserted), so the first order created
    at or after each bound, one read of the (created_at, id) index, is where the range
    starts or stops. The list then reads its page off the primary key, as it does
    unfiltered."""
    condition: ColumnElement[bool] = true()
    if start is not None:
        condition = and_(condition, Order.id >= _first_id_created_at_or_after(start))
    if end is not None:
        condition = and_(condition, Order.id < _first_id_created_at_or_after(end))
    return condition


def _first_id_created_at_or_after(moment: datetime) -> ColumnElement[int]:
    """The id of the first order created at or after `moment`; past every id if none is."""
    first = (
        select(_CREATED.id)
        .where(_CREATED.created_at >= moment)
        .order_by(_CREATED.created_at, _CREATED.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(first, MAX_ROW_ID + 1)
