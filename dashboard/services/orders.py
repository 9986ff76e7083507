"""Orders: create, find, and list them fast at any size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dashboard.domain.emails import normalize_email
from dashboard.domain.money import SUPPORTED_CURRENCIES, MoneyError, normalize_currency
from dashboard.domain.orders import LineDraft, OrderState, order_total
from dashboard.extensions import db
from dashboard.models import Order, OrderLine, TimelineKind, User, utcnow
from dashboard.services import order_search, timeline
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
# Lists name the agent of each order an agent placed: one more query, only when there are.
WITH_AGENT = selectinload(Order.agent)


def get_order(order_id: int) -> Order | None:
    return db.session.get(Order, order_id, options=[WITH_LINES])


def list_orders(
    *,
    state: OrderState | None = None,
    search: str = "",
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    older_than: int | None = None,
    newer_than: int | None = None,
    per_page: int = 50,
) -> Page[Order]:
    """Newest first, keyset-paginated: a deep page costs what the first one does. `search`
    is read by order_search.search_condition; created_from / created_before bound the
    creation time (UTC; the end excluded)."""
    query = select(Order).options(WITH_AGENT)
    if state is not None:
        query = query.where(Order.state == state.value)
    search = search.strip()
    if search:
        query = query.where(order_search.search_condition(search))
    if created_from is not None or created_before is not None:
        query = query.where(order_search.created_between(created_from, created_before))
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
    query = select(Order).options(WITH_AGENT).where(Order.state == OrderState.AUTHORIZED.value)
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
