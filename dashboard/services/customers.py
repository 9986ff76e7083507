"""Customers: found (or made) by normalised email when a buyer pays, keeps a card or
subscribes; their Stripe Customer made once, on first need; their timeline.

Both `find_or_create` and `ensure_stripe_customer` are safe when two requests for the same
buyer run at once: the unique email keeps one row (the loser of the race reads the
winner's), and the Stripe Customer is made with an idempotency key derived from the email,
so Stripe answers both with the same one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.domain.emails import MAX_EMAIL_LENGTH, normalize_email
from dashboard.extensions import db
from dashboard.models import (
    Customer,
    CustomerTimelineEntry,
    Order,
    StripeEvent,
    TimelineKind,
    User,
)
from dashboard.payments.gateway import gateway

MAX_NAME_LENGTH = 200
# Tries of the insert when another request stores the same email in between.
_ATTEMPTS = 3


class CustomerError(ValueError):
    """An email or name no customer can have; the message says why, in plain words."""


def find_or_create(email: str, name: str | None = None) -> Customer:
    """The customer of this email (normalised), made if there is none. A name fills in a
    customer who has none yet; a customer's name is never overwritten by a later order."""
    email = normalize_email(email)
    if not email or "@" not in email or len(email) > MAX_EMAIL_LENGTH:
        raise CustomerError("A customer needs a valid email address.")
    name = (name or "").strip()[:MAX_NAME_LENGTH]
    for _ in range(_ATTEMPTS):
        found = find_by_email(email)
        if found is not None:
            if name and not found.name:
                found.name = name
            return found
        try:
            with db.session.begin_nested():
                customer = Customer(email=email, name=name)
                db.session.add(customer)
                db.session.flush()
            note(customer, TimelineKind.STATE_CHANGE, "Customer created", data={"email": email})
            return customer
        except IntegrityError:
            # Another request stored this email first (on PostgreSQL the insert waited for
            # it to commit): read theirs on the next turn.
            continue
    raise RuntimeError(f"could not find or store the customer of {email!r}")


def find_by_email(email: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(Customer.email == normalize_email(email)))


def by_stripe_id(stripe_customer_id: str) -> Customer | None:
    return db.session.scalar(
        select(Customer).where(Customer.stripe_customer_id == stripe_customer_id)
    )


def ensure_stripe_customer(customer: Customer) -> str:
    """The customer's Stripe Customer id, made in Stripe the first time it is needed.

    The idempotency key is derived from the email (as the saved-cards code always made
    it), so two requests making it at once get the same Customer from Stripe.
    """
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    digest = hashlib.sha256(customer.email.encode()).hexdigest()[:40]
    customer_id = gateway().create_customer(
        customer.email, idempotency_key=f"buyer-customer-{digest}"
    )
    customer.stripe_customer_id = customer_id
    db.session.flush()
    note(
        customer,
        TimelineKind.API_CALL,
        "Customer made in Stripe",
        data={"customer": customer_id},
    )
    return customer_id


def link_order(order: Order) -> Customer:
    """The order's buyer as a customer, linked to the order (once; found by email)."""
    if order.customer_id is not None:
        customer = db.session.get(Customer, order.customer_id)
        if customer is not None:
            return customer
    customer = find_or_create(order.buyer_email, order.buyer_name)
    order.customer_id = customer.id
    return customer


def note(
    customer: Customer,
    kind: TimelineKind,
    summary: str,
    *,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    stripe_event: StripeEvent | None = None,
) -> CustomerTimelineEntry:
    """An entry on the customer's timeline (added to the session, flushed with the rest)."""
    entry = CustomerTimelineEntry(
        customer_id=customer.id,
        kind=kind.value,
        summary=summary,
        actor=actor,
        data=data or {},
        stripe_event=stripe_event,
    )
    db.session.add(entry)
    return entry
