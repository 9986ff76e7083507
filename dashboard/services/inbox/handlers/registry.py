"""Which handler takes which event type, and whether it may re-read Stripe: declared by
each handler where it is defined (`@handles`), so no list elsewhere can drift from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dashboard.models import Order, StripeEvent
from dashboard.services.inbox.handlers.outcomes import Outcome

if TYPE_CHECKING:
    from dashboard.services.inbox.matching import OrderLookup


@dataclass(frozen=True)
class MatchedEvent:
    """A claimed event and the order it leads to (locked): what a handler is given.

    `orders` is how the event reached its order (one event, or a page of them sharing one
    read of their orders); handlers ask it for what it already knows about the order.
    """

    row: StripeEvent
    order: Order
    orders: OrderLookup

    @property
    def type(self) -> str:
        return self.row.type

    @property
    def object(self) -> dict[str, Any]:
        return self.row.data_object


Handler = Callable[[MatchedEvent], Outcome]
# For events about no order (a subscription, its invoices): given the stored event alone.
StandaloneHandler = Callable[[StripeEvent], Outcome]


# A handler of events about no order (customers, their payment methods): given the event,
# it finds what the event is about itself and says what became of it.
CustomerHandler = Callable[[StripeEvent], Outcome]


def _no_order_handler(event: MatchedEvent) -> Outcome:
    raise RuntimeError(f"{event.type} is about no order")


@dataclass(frozen=True)
class Registration:
    handler: Handler
    # The handler may ask Stripe for the truth first (a network call while the event's
    # transaction is open): webhook deliveries of such a type are not grouped.
    rereads_stripe: bool
    # Set for events about a customer rather than an order (reconcile.py skips the order).
    customer_handler: CustomerHandler | None = None


HANDLERS: dict[str, Registration] = {}


def handles(*event_types: str, rereads_stripe: bool) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these event types."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            if event_type in HANDLERS:
                raise RuntimeError(f"{event_type} has a handler already")
            HANDLERS[event_type] = Registration(handler, rereads_stripe)
        return handler

    return register


def handles_customer(*event_types: str) -> Callable[[CustomerHandler], CustomerHandler]:
    """Register the decorated function as the handler of these events about customers."""

    def register(handler: CustomerHandler) -> CustomerHandler:
        for event_type in event_types:
            if event_type in HANDLERS:
                raise RuntimeError(f"{event_type} has a handler already")
            HANDLERS[event_type] = Registration(_no_order_handler, False, handler)
        return handler

    return register


def registration(event_type: object) -> Registration | None:
    """How an event of this type is handled; None for a type the dashboard does not act on."""
    return HANDLERS.get(event_type) if isinstance(event_type, str) else None


def rereads_stripe(event_type: object) -> bool:
    found = registration(event_type)
    return found is not None and found.rereads_stripe
