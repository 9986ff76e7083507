"""Finding an event's order: the keys in its object that can lead to one, and the lookup
that locks the order and answers what processing reads of it.

`OrderLookup` asks the database, for one event at a time. `PageOrders` does the same for
a page of events with one read: the page's orders are locked in one query (in id order)
with the latest event each has taken and our money requests for each, and kept current as
the page's events are applied. The one in use is passed to whatever needs it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select

from dashboard.domain.ids import row_id
from dashboard.extensions import db
from dashboard.models import (
    IN_FLIGHT,
    MONEY_ACTIONS,
    Order,
    RequestStatus,
    StripeEvent,
    StripeRequest,
)
from dashboard.payments.snapshots import object_refs
from dashboard.services import customers

OrderKey = tuple[str, int | str]
# Our money requests that Stripe took, or may have taken.
SENT = (RequestStatus.SUCCEEDED.value, *IN_FLIGHT)


def order_keys(obj: dict[str, Any]) -> list[OrderKey]:
    """What can lead from an event's object to its order, strongest first: the metadata
    order id, the client_reference_id, then the Stripe ids the order stores."""
    refs = object_refs(obj)
    keys: list[OrderKey] = []
    for number in (row_id(refs.order_id), row_id(refs.client_reference_id)):
        if number is not None:
            keys.append(("id", number))
    for column, value in (
        ("stripe_payment_intent_id", refs.payment_intent_id),
        ("stripe_checkout_session_id", refs.checkout_session_id),
        ("stripe_charge_id", refs.charge_id),
    ):
        if value:
            keys.append((column, value))
    return keys


def no_match_reason(obj: dict[str, Any]) -> str:
    refs = object_refs(obj)
    tried = [
        f"{name} {value}"
        for name, value in (
            ("metadata order_id", refs.order_id),
            ("client_reference_id", refs.client_reference_id),
            ("payment intent", refs.payment_intent_id),
            ("checkout session", refs.checkout_session_id),
            ("charge", refs.charge_id),
        )
        if value
    ]
    return "No order matches " + (", ".join(tried) if tried else "anything in this event") + "."


class OrderLookup:
    """One event's order and what its processing reads of it, straight from the database."""

    def order_for(self, obj: dict[str, Any]) -> Order | None:
        """The event's order, locked (as `payments.ledger.lock_order` does), by its keys."""
        return self._query(order_keys(obj))

    def _query(self, keys: list[OrderKey]) -> Order | None:
        for column, value in keys:
            order = db.session.scalar(
                select(Order)
                .where(getattr(Order, column) == value)
                .limit(1)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if order is not None:
                return order
        return None

    def arrived_out_of_order(self, row: StripeEvent, order: Order) -> bool:
        """Did an event Stripe created later already reach this order?"""
        later = exists().where(
            StripeEvent.order_id == order.id,
            StripeEvent.id != row.id,
            StripeEvent.created > row.created,
            StripeEvent.processed_at.is_not(None),
        )
        return bool(db.session.scalar(select(later)))

    def sent_requests(self, order: Order) -> list[StripeRequest]:
        """Our money requests for the order that Stripe took or may have taken (one query)."""
        return list(
            db.session.scalars(
                select(StripeRequest).where(
                    StripeRequest.order_id == order.id,
                    StripeRequest.action.in_(MONEY_ACTIONS),
                    StripeRequest.status.in_(SENT),
                )
            )
        )

    def saw(self, order_id: int, created: datetime) -> None:
        """An event created at `created` has been applied to the order (nothing to keep)."""


class PageOrders(OrderLookup):
    """The orders a page of events leads to, read once for the page and kept current."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.latest: dict[int, datetime] = {}
        self.requests: dict[int, list[StripeRequest]] = {}
        # The keys the orders were looked up by: an event with any other key is found by
        # the database (an event stored before and retried with the page, say).
        self.keys: set[OrderKey] = set()

    def lock(self, objects: list[dict[str, Any]]) -> None:
        """Lock every order these objects could lead to, in id order (one query), and
        read what their events' processing needs."""
        wanted: dict[str, set[int | str]] = {}
        for obj in objects:
            for column, value in order_keys(obj):
                wanted.setdefault(column, set()).add(value)
                self.keys.add((column, value))
        if not wanted:
            return
        conditions = [getattr(Order, column).in_(sorted(v)) for column, v in wanted.items()]
        self._adopt(
            list(
                db.session.scalars(
                    select(Order)
                    .where(or_(*conditions))
                    .order_by(Order.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            )
        )

    def _adopt(self, orders: list[Order]) -> None:
        ids = [order.id for order in orders if order.id not in self.orders]
        if not ids:
            return
        self.orders.update({order.id: order for order in orders})
        customers.prefetch([o.buyer_email for o in orders if o.customer_id is None])
        for order_id, latest in db.session.execute(
            select(StripeEvent.order_id, func.max(StripeEvent.created))
            .where(StripeEvent.order_id.in_(ids), StripeEvent.processed_at.is_not(None))
            .group_by(StripeEvent.order_id)
        ):
            if order_id is not None:
                self.latest[order_id] = latest
        for request in db.session.scalars(
            select(StripeRequest).where(
                StripeRequest.order_id.in_(ids), StripeRequest.action.in_(MONEY_ACTIONS)
            )
        ):
            self.requests.setdefault(request.order_id, []).append(request)

    def order_for(self, obj: dict[str, Any]) -> Order | None:
        keys = order_keys(obj)
        found = self._known(keys)
        if found is not None:
            return found
        db.session.flush()  # the query below must not overwrite what the page changed
        order = self._query(keys)
        if order is not None:
            self._adopt([order])
        return order

    def _known(self, keys: list[OrderKey]) -> Order | None:
        if not self.keys.issuperset(keys):
            return None
        for column, value in keys:
            if column == "id":
                by_id = self.orders.get(int(value))
                if by_id is not None:
                    return by_id
                continue
            # The Stripe ids as they stand now: an earlier event of the page may have set one.
            found = [o for o in self.orders.values() if getattr(o, column) == value]
            if found:
                return min(found, key=lambda order: order.id)
        return None

    def arrived_out_of_order(self, row: StripeEvent, order: Order) -> bool:
        latest = self.latest.get(order.id)
        return latest is not None and latest > row.created

    def sent_requests(self, order: Order) -> list[StripeRequest]:
        return [r for r in self.requests.get(order.id, []) if r.status in SENT]

    def saw(self, order_id: int, created: datetime) -> None:
        latest = self.latest.get(order_id)
        if latest is None or created > latest:
            self.latest[order_id] = created
