"""A customer's saved payment methods: kept when a buyer agrees (on an order's payment or a
"save a card" link), their card facts as Stripe last said, and removed (detached)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.extensions import db
from dashboard.models import (
    Customer,
    PaymentMethodStatus,
    SavedPaymentMethod,
    TimelineKind,
    User,
)
from dashboard.payments.charges import Card
from dashboard.services import customers


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
