"""A customer's saved payment methods: kept when a buyer agrees (on an order's payment or a
"save a card" link), their card facts as Stripe last said, and removed (detached)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from dashboard.extensions import db
from dashboard.models import (
    Customer,
    Order,
    PaymentMethodStatus,
    SavedPaymentMethod,
    TimelineKind,
    User,
    utcnow,
)
from dashboard.payments.charges import Card
from dashboard.payments.gateway import gateway
from dashboard.services import customers, subscriptions


def by_stripe_id(payment_method_id: str) -> SavedPaymentMethod | None:
    return db.session.scalar(
        select(SavedPaymentMethod).where(
            SavedPaymentMethod.stripe_payment_method_id == payment_method_id
        )
    )


def keep(
    customer: Customer,
    payment_method_id: str,
    *,
    card: Card | None,
    consent_at: datetime | None,
    source: str,
    actor: User | None = None,
) -> SavedPaymentMethod:
    """Record a payment method Stripe saved for the customer (once: a second report of the
    same one fills in what the first lacked)."""
    found = by_stripe_id(payment_method_id)
    if found is None:
        try:
            with db.session.begin_nested():
                found = SavedPaymentMethod(
                    customer_id=customer.id,
                    stripe_payment_method_id=payment_method_id,
                    status=PaymentMethodStatus.ATTACHED.value,
                    consent_at=consent_at,
                    source=source,
                )
                db.session.add(found)
                db.session.flush()
        except IntegrityError:
            found = by_stripe_id(payment_method_id)
            if found is None:
                raise
        else:
            customers.note(
                customer,
                TimelineKind.STATE_CHANGE,
                f"Card kept on file with the buyer's consent ({source})",
                actor=actor,
                data={"payment_method": payment_method_id, "source": source},
            )
    if card is not None:
        take_card(found, card)
    if found.consent_at is None:
        found.consent_at = consent_at
    return found


def take_card(method: SavedPaymentMethod, card: Card) -> None:
    """The card's facts, where Stripe said them (an unknown one leaves what is known)."""
    method.brand = card.brand or method.brand
    method.last4 = card.last4 or method.last4
    method.exp_month = card.exp_month or method.exp_month
    method.exp_year = card.exp_year or method.exp_year
    method.wallet = card.wallet or method.wallet


def subscriptions_using(method: SavedPaymentMethod) -> list[str]:
    """The subscriptions that renew with this card, in words ("Monthly box, renews 01 Feb
    2027"); services/subscriptions knows which."""
    return subscriptions.names_using(method.stripe_payment_method_id)


def detach_warnings(method: SavedPaymentMethod) -> list[str]:
    """What staff must know before removing the card: what would stop working."""
    warnings = [
        f"The subscription “{name}” renews with this card: its next renewal will fail "
        "unless the buyer gives another card."
        for name in subscriptions_using(method)
    ]
    if method.customer.default_payment_method_id == method.stripe_payment_method_id:
        warnings.append(
            "This is the customer's default card for invoices in Stripe: renewals charged "
            "to it will fail until the buyer gives another card."
        )
    holds = db.session.scalar(
        select(func.count(Order.id)).where(
            Order.saved_payment_method_id == method.stripe_payment_method_id
        )
    )
    if holds:
        warnings.append(
            f"{holds} order(s) would place a new hold with this card; after removing it, "
            "staff can only send those buyers a new pay link."
        )
    return warnings


def find(customer_id: int, method_id: int) -> SavedPaymentMethod | None:
    method = db.session.get(SavedPaymentMethod, method_id)
    return method if method is not None and method.customer_id == customer_id else None


def detach(method: SavedPaymentMethod, actor: User | None) -> str:
    """Remove the card in Stripe (it can no longer be charged) and here. A card already
    removed is not sent again. Returns what happened, in words; PaymentError if Stripe
    refused (nothing changes here)."""
    label = describe(method)
    if not method.is_attached:
        return f"{label} was already removed; nothing was sent to Stripe."
    gateway().detach_payment_method(method.stripe_payment_method_id)
    now = utcnow()
    mark_detached(method, now)
    # What Stripe said last, as far as events go: a late `payment_method.attached` from
    # before the removal must not bring the card back.
    method.stripe_event_at = now
    customers.note(
        method.customer,
        TimelineKind.STAFF_ACTION,
        f"{label} removed by staff",
        actor=actor,
        data={"payment_method": method.stripe_payment_method_id},
    )
    return f"{label} was removed. It can no longer be charged."


def mark_detached(method: SavedPaymentMethod, at: datetime) -> None:
    """The card is gone from the customer: no order offers a new hold with it."""
    method.status = PaymentMethodStatus.DETACHED.value
    method.detached_at = method.detached_at or at
    db.session.execute(
        update(Order)
        .where(Order.saved_payment_method_id == method.stripe_payment_method_id)
        .values(saved_payment_method_id=None)
    )
    if method.customer.default_payment_method_id == method.stripe_payment_method_id:
        method.customer.default_payment_method_id = None


def describe(method: SavedPaymentMethod) -> str:
    card = Card(brand=method.brand, last4=method.last4)
    label = card.label if method.last4 else "The card"
    return f"{label} ({Card(wallet=method.wallet).wallet_label})" if method.wallet else label
