"""Orders: create, find, and list them fast at any size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, false, select
from sqlalchemy.orm import selectinload

from dashboard.domain.emails import normalize_email
from dashboard.domain.ids import MAX_ROW_ID, parse_order_number
from dashboard.domain.money import SUPPORTED_CURRENCIES, MoneyError, normalize_currency
from dashboard.domain.orders import LineDraft, OrderState, order_total
from dashboard.extensions import db
from dashboard.models import Order, OrderLine, TimelineKind, User, utcnow
from dashboard.services import timeline
from dashboard.services.pagination import Page, newest_first


def create_order(
    *,
    actor: User | None,
    buyer_name: str,
    buyer_email: str,
    currency: str,
    lines: list[LineDraft],
) -> Order:
    """Write an order with its lines and its first timeline entry, or nothing at all."""
    code = normalize_currency(currency)
    if code not in SUPPORTED_CURRENCIES:
        raise MoneyError(f"{code} is not a currency this dashboard takes.")
    total = order_total(lines)
    order = Order(
        buyer_name=buyer_name.strip(),
        buyer_email=normalize_email(buyer_email),
        currency=code,
        total_amount=total,
        state=OrderState.OPEN.value,
        created_by=actor,
        lines=[
            OrderLine(
                position=position,
                description=line.description.strip(),
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.amount,
            )
            for position, line in enumerate(lines)
        ],
    )
    db.session.add(order)
    db.session.flush()
    who = actor.email if actor else "the system"
    timeline.append(
        order,
        TimelineKind.STAFF_ACTION,
        f"Order created by {who} for {order.total_display}",
        actor=actor,
        data={"action": "create_order", "total_amount": total, "currency": code},
    )
    return order


# An order is shown with its lines: loaded with it, in one more query.
WITH_LINES = selectinload(Order.lines)


def get_order(order_id: int) -> Order | None:
    return db.session.get(Order, order_id, options=[WITH_LINES])


_STRIPE_COLUMNS = {
    "pi_": Order.stripe_payment_intent_id,
    "cs_": Order.stripe_checkout_session_id,
    "ch_": Order.stripe_charge_id,
    "py_": Order.stripe_charge_id,
}


def _search(query: Select[Order], text: str) -> Select[Order]:
    """Order number, Stripe id, or buyer email prefix; each one an index lookup."""
    number = parse_order_number(text)
    if number is not None:
        return query.where(Order.id == number if number <= MAX_ROW_ID else false())
    for prefix, column in _STRIPE_COLUMNS.items():
        if text.startswith(prefix):
            return query.where(column == text)
    return query.where(email_starts_with(text))


def _after_every_extension_of(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (code point
    order, which both databases use for the email column), or None if there is none."""
    # Nothing follows U+10FFFF: such a last character is dropped and the one before raised.
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no text either database can store
        following = 0xE000
    return stem[:-1] + chr(following)


def email_starts_with(text: str) -> ColumnElement[bool]:
    """Buyer emails starting with `text` (any case): a range, rather than LIKE, so that it
    uses the (buyer_email, id) index on both databases."""
    # Typed as the stored addresses are written, so a full-width ADA finds ada@….
    prefix = normalize_email(text)
    if not prefix:
        return false()
    upper = _after_every_extension_of(prefix)
    if upper is None:
        return Order.buyer_email >= prefix
    return and_(Order.buyer_email >= prefix, Order.buyer_email < upper)


def list_orders(
    *,
    state: OrderState | None = None,
    search: str = "",
    older_than: int | None = None,
    newer_than: int | None = None,
    per_page: int = 50,
) -> Page[Order]:
    """Newest first, keyset-paginated: a deep page costs what the first one does."""
    query = select(Order)
    if state is not None:
        query = query.where(Order.state == state.value)
    search = search.strip()
    if search:
        query = _search(query, search)
    return newest_first(
        query, Order.id, older_than=older_than, newer_than=newer_than, per_page=per_page
    )


PAYMENT_METHODS = ("checkout", "payment_page")
# How the buyer pays can change only until a payment is under way.
METHOD_CHOOSABLE = (OrderState.OPEN, OrderState.FAILED)


class PaymentMethodLocked(ValueError):
    """A payment is already under way: how the buyer pays can no longer change."""


def can_choose_payment_method(order: Order) -> bool:
    return order.order_state in METHOD_CHOOSABLE


def set_payment_method(order: Order, method: str, actor: User) -> None:
    if method not in PAYMENT_METHODS:
        raise ValueError(method)
    if not can_choose_payment_method(order):
        raise PaymentMethodLocked("A payment is already under way.")
    order.payment_method = method
    timeline.append(
        order,
        TimelineKind.STAFF_ACTION,
        f"{actor.email} set the payment method to {method.replace('_', ' ')}",
        actor=actor,
        data={"action": "set_payment_method", "method": method},
    )


# A hold this close to its capture deadline is flagged wherever holds are listed.
EXPIRING_WITHIN = timedelta(hours=24)
# The holds shown above the order list; the rest are the "authorized" filter away.
CAPTURE_QUEUE_SIZE = 10


@dataclass(frozen=True)
class QueuedHold:
    """An authorized order waiting to be captured, and how close its deadline is."""

    order: Order
    expiring_soon: bool  # the deadline is within EXPIRING_WITHIN
    past_deadline: bool  # Stripe may already have released it; capture will fail


def capture_queue(
    *, now: datetime | None = None, until: datetime | None = None, limit: int | None = None
) -> list[QueuedHold]:
    """Authorized orders by capture deadline, soonest first (those without one last).

    `until` keeps only deadlines up to that moment. Served by the (state, capture_before)
    index.
    """
    now = now or utcnow()
    query = select(Order).where(Order.state == OrderState.AUTHORIZED.value)
    if until is not None:
        query = query.where(Order.capture_before <= until)
    query = query.order_by(Order.capture_before.asc().nulls_last(), Order.id)
    if limit is not None:
        query = query.limit(limit)
    soon = now + EXPIRING_WITHIN
    return [
        QueuedHold(
            order=order,
            expiring_soon=order.capture_before is not None and order.capture_before <= soon,
            past_deadline=order.capture_before is not None and order.capture_before <= now,
        )
        for order in db.session.scalars(query)
    ]
