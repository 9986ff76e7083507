"""Customers: found (or made) by normalised email when a buyer pays, keeps a card or
subscribes; their Stripe Customer made once, on first need; their timeline.

Both `find_or_create` and `ensure_stripe_customer` are safe when two requests for the same
buyer run at once: the unique email keeps one row (the loser of the race reads the
winner's), and the Stripe Customer is made with an idempotency key derived from the email,
so Stripe answers both with the same one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from dashboard.domain.emails import MAX_EMAIL_LENGTH, normalize_email
from dashboard.extensions import db, upsert_insert
from dashboard.models import (
    Customer,
    CustomerTimelineEntry,
    Order,
    StripeEvent,
    TimelineKind,
    User,
)
from dashboard.payments.gateway import gateway
from dashboard.services import timeline

MAX_NAME_LENGTH = 200
# Tries of the insert when another request stores the same email in between.
_ATTEMPTS = 3
# The page of webhook events being applied: its buyers' customers by email (None: none yet).
_PAGE: ContextVar[_PageBuyers | None] = ContextVar("page_buyers", default=None)


class CustomerError(ValueError):
    """An email or name no customer can have; the message says why, in plain words."""


def find_or_create(email: str, name: str | None = None) -> Customer:
    """The customer of this email (normalised), made if there is none. A name fills in a
    customer who has none yet; a customer's name is never overwritten by a later order."""
    email = normalize_email(email)
    if not email or "@" not in email or len(email) > MAX_EMAIL_LENGTH:
        raise CustomerError("A customer needs a valid email address.")
    name = (name or "").strip()[:MAX_NAME_LENGTH]
    page = _PAGE.get()
    if page is not None and page.known.get(email, False) is None and page.ids:
        # New to the page and to the database when the page began: made with an id the
        # page reserved, written with the page's other rows at its end (a buyer stored by
        # someone else in between fails that write, and the page is applied again one event
        # at a time, through the insert below).
        customer = Customer(id=page.ids.pop(), email=email, name=name)
        db.session.add(customer)
        note(customer, TimelineKind.STATE_CHANGE, "Customer created", data={"email": email})
        page.known[email] = customer
        return customer
    for _ in range(_ATTEMPTS):
        # Neither the read nor the insert flushes what the caller has pending (a page of
        # webhook events is written once, at its end), and no savepoint is needed: the
        # unique email decides between two requests at once, the loser inserting nothing
        # (on PostgreSQL after the winner's commit) and reading the winner's row next turn.
        with db.session.no_autoflush:
            if page is not None and email in page.known:  # the page read it (None: no one)
                found = page.known.pop(email)
            else:
                found = find_by_email(email)
            if found is None:
                found = db.session.scalar(
                    upsert_insert()(Customer)
                    .values(email=email, name=name)
                    .on_conflict_do_nothing(index_elements=["email"])
                    .returning(Customer)
                )
                if found is None:
                    continue  # stored by someone else just now: read theirs
                note(found, TimelineKind.STATE_CHANGE, "Customer created", data={"email": email})
            elif name and not found.name:
                found.name = name
        if page is not None:
            page.known[email] = found
        return found
    raise RuntimeError(f"could not find or store the customer of {email!r}")


@dataclass
class _PageBuyers:
    """The page's buyers by email (None: no customer when the page read them), and ids
    reserved on PostgreSQL for the customers the page may make."""

    known: dict[str, Customer | None] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)


@contextmanager
def page_of_buyers() -> Iterator[None]:
    """While a page of webhook events is applied: the customers of its orders are read in
    one query (`prefetch`), and those it makes are written with the page's other rows,
    instead of a read and an insert per event."""
    token = _PAGE.set(_PageBuyers())
    try:
        yield
    finally:
        _PAGE.reset(token)


def prefetch(emails: list[str]) -> None:
    """Read these buyers' customers at once for the page being applied (nothing outside a
    page). An email with no customer is remembered as none, and on PostgreSQL an id is
    reserved for it (one query for all), so making it costs no statement of its own."""
    page = _PAGE.get()
    if page is None:
        return
    wanted = {normalize_email(email) for email in emails} - page.known.keys()
    if not wanted:
        return
    found = {
        customer.email: customer
        for customer in db.session.scalars(select(Customer).where(Customer.email.in_(wanted)))
    }
    page.known.update({email: found.get(email) for email in wanted})
    missing = len(wanted) - len(found)
    if missing and db.session.get_bind().dialect.name == "postgresql":
        page.ids.extend(
            db.session.scalars(
                select(func.nextval(func.pg_get_serial_sequence("customers", "id"))).select_from(
                    func.generate_series(1, missing)
                )
            )
        )


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
    order.customer = customer  # a customer the page made is written before the order
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
    if timeline.page_takes(customer, actor, stripe_event):
        columns = timeline.page_columns(kind, summary, actor, data, stripe_event)
        return timeline.keep_with_page(CustomerTimelineEntry(customer_id=customer.id, **columns))
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
