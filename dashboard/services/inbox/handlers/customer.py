"""`customer.*` and `payment_method.*` events: a customer's name, default card and deletion,
and each saved card's state (attached, detached) and facts (brand, last 4, expiry, wallet),
moving forward only: an event older than the last one applied changes nothing, so any
order of arrival ends in the same state. Written on the customer's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.extensions import db
from dashboard.models import (
    Customer,
    EventStatus,
    PaymentMethodStatus,
    SavedPaymentMethod,
    StripeEvent,
    TimelineKind,
)
from dashboard.payments.customer_calls import payment_method_snapshot, setup_session_snapshot
from dashboard.payments.gateway import gateway
from dashboard.services import card_setup, customers, payment_methods
from dashboard.services.inbox.handlers.outcomes import Outcome, applied, ignored
from dashboard.services.inbox.handlers.registry import handles_customer

CUSTOMER_EVENTS = ("customer.created", "customer.updated", "customer.deleted")
METHOD_EVENTS = (
    "payment_method.attached",
    "payment_method.detached",
    "payment_method.updated",
    "payment_method.automatically_updated",
    "payment_method.card_automatically_updated",
)


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value and len(value) <= 255 else None


def _unmatched(customer_id: str | None) -> Outcome:
    return Outcome(
        EventStatus.UNMATCHED,
        f"No customer of ours has the Stripe customer {customer_id}."
        if customer_id
        else "The event names no customer.",
    )


def _newer(said_at: datetime, last: datetime | None) -> bool:
    return last is None or said_at >= last


@handles_customer(*CUSTOMER_EVENTS)
def on_customer(row: StripeEvent) -> Outcome:
    obj = row.data_object
    customer = customers.by_stripe_id(_id(obj.get("id")) or "")
    if customer is None:
        return _unmatched(_id(obj.get("id")))
    if customer.stripe_deleted_at is not None:
        reason = "the customer was deleted in Stripe already"
    elif row.type == "customer.deleted":
        customer.stripe_deleted_at = row.created
        customer.stripe_event_at = row.created
        for method in customer.payment_methods:
            if method.is_attached:
                payment_methods.mark_detached(method, row.created)
                method.stripe_event_at = row.created
        reason = "customer deleted in Stripe: its saved cards are gone with it"
    elif not _newer(row.created, customer.stripe_event_at):
        reason = "older than what Stripe said last; nothing changed"
    else:
        customer.stripe_event_at = row.created
        name = obj.get("name")
        if isinstance(name, str) and name.strip():
            customer.name = name.strip()[: customers.MAX_NAME_LENGTH]
        settings = obj.get("invoice_settings")
        if isinstance(settings, dict):
            customer.default_payment_method_id = _id(settings.get("default_payment_method"))
        reason = "customer details taken"
    _note(customer, row, reason)
    return _outcome(reason)


@handles_customer(*METHOD_EVENTS)
def on_payment_method(row: StripeEvent) -> Outcome:
    obj = row.data_object
    method_id = _id(obj.get("id"))
    if method_id is None:
        return ignored("The payment method has no valid id.")
    snapshot = payment_method_snapshot(obj)
    previous = (row.payload.get("data") or {}).get("previous_attributes") or {}
    stripe_customer = snapshot.customer_id or _id(previous.get("customer"))
    method = payment_methods.by_stripe_id(method_id)
    customer = (
        method.customer if method is not None else customers.by_stripe_id(stripe_customer or "")
    )
    if customer is None:
        return _unmatched(stripe_customer)
    detached = row.type == "payment_method.detached" or snapshot.customer_id is None
    status = PaymentMethodStatus.DETACHED if detached else PaymentMethodStatus.ATTACHED
    if method is None:
        method = SavedPaymentMethod(
            customer_id=customer.id,
            customer=customer,
            stripe_payment_method_id=method_id,
            type=snapshot.type or "card",
            status=status.value,
            source="Stripe",
            detached_at=row.created if detached else None,
            stripe_event_at=row.created,
        )
        db.session.add(method)
        reason = f"card {status.value} (first heard of from Stripe)"
    elif _moves(method, status, row.created):
        if detached:
            payment_methods.mark_detached(method, row.created)
        else:
            method.status = status.value
            method.detached_at = None
        method.stripe_event_at = row.created
        reason = f"card {status.value}"
    else:
        reason = "older than what Stripe said last; the card's state stays"
    if snapshot.card is not None and _newer(row.created, method.stripe_event_at):
        payment_methods.take_card(method, snapshot.card)
        method.exp_month = snapshot.card.exp_month or method.exp_month
        method.exp_year = snapshot.card.exp_year or method.exp_year
    label = payment_methods.describe(method)
    _note(customer, row, f"{label}: {reason}")
    return _outcome(f"{method_id}: {reason}")


def on_setup_session(row: StripeEvent) -> Outcome:
    """A save-a-card link's Stripe Checkout (setup mode), about the link's customer, not an
    order. Completed: the card its SetupIntent saved (re-read from Stripe) is kept with the
    buyer's consent, given on our page before they left for Stripe's, and offered to their
    holds, as the return page does; so a buyer who never comes back loses nothing, and one
    who does finds it kept once. Anything else saved nothing."""
    session = setup_session_snapshot(row.data_object)
    customer_id = session.metadata.get("customer_id", "")
    nonce = session.metadata.get("save_card_link", "")
    customer = (
        db.session.get(Customer, int(customer_id))
        if customer_id.isascii() and customer_id.isdigit() and len(customer_id) < 10
        else None
    )
    if customer is None or not nonce:
        return Outcome(
            EventStatus.UNMATCHED,
            f"A setup-mode Checkout Session of no save-a-card link of ours ({session.id}).",
        )
    if (
        row.type != "checkout.session.completed"
        or session.status != "complete"
        or session.setup_intent_id is None
    ):
        reason = f"Checkout session {session.id} saved no card ({row.type})"
        _note(customer, row, reason)
        return ignored(reason)
    intent = gateway().retrieve_setup_intent(session.setup_intent_id)
    try:
        kept = card_setup.finish(card_setup.SetupLink(customer, nonce), intent)
    except card_setup.SetupMismatch as mismatch:
        reason = f"Checkout session {session.id}: {mismatch}; nothing kept"
        _note(customer, row, reason)
        return ignored(reason)
    if kept is None:
        reason = f"Checkout session {session.id}: its card setup is {intent.status}; nothing kept"
        _note(customer, row, reason)
        return ignored(reason)
    reason = f"{payment_methods.describe(kept)} kept on file from Checkout session {session.id}"
    _note(customer, row, reason)
    return applied(reason)


def _moves(method: SavedPaymentMethod, status: PaymentMethodStatus, said_at: datetime) -> bool:
    """Forward only: a newer word from Stripe; at the same second, only towards detached
    (a card removed in the second it was added stays removed, whichever came first)."""
    last = method.stripe_event_at
    if last is None or said_at > last:
        return True
    return said_at == last and status is PaymentMethodStatus.DETACHED


def _note(customer: Customer, row: StripeEvent, reason: str) -> None:
    customers.note(
        customer,
        TimelineKind.WEBHOOK,
        f"Stripe event {row.type}: {reason}",
        stripe_event=row,
        data={
            "event_id": row.event_id,
            "type": row.type,
            "stripe_created": row.created.isoformat(),
        },
    )


def _outcome(reason: str) -> Outcome:
    if "older than" in reason or "already" in reason:
        return ignored(reason)
    return applied(reason)
