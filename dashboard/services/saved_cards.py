"""Cards kept for later, with the buyer's consent: one Stripe Customer per buyer email
(found or made, safely when two pay pages ask at once), what an order's payment is told
about keeping the card, and the card Stripe saved once the payment authorized."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.domain.emails import normalize_email
from dashboard.domain.stripe_mapping import PaymentIntentStatus
from dashboard.extensions import db
from dashboard.models import BuyerCustomer, Order, TimelineKind, utcnow
from dashboard.payments.gateway import gateway
from dashboard.payments.saved_cards import CardSaving
from dashboard.payments.snapshots import PaymentIntentSnapshot
from dashboard.services import timeline

# The words beside the box on our pay page; the consent is to exactly these.
CONSENT_TEXT = (
    "Keep this card on file so the shop can place a new hold if this one runs out. "
    "You can ask the shop to remove it."
)
# A payment in these states has a card Stripe has saved, when it was asked to.
_AUTHORIZED = frozenset({PaymentIntentStatus.REQUIRES_CAPTURE, PaymentIntentStatus.SUCCEEDED})


def customer_for(email: str) -> str:
    """The buyer's Stripe Customer: the one this email already has, else a new one.

    The idempotency key is derived from the email, so two pay pages asking at once get the
    same customer from Stripe; the unique email keeps one row whichever commits first.
    """
    email = normalize_email(email)
    found = _stored(email)
    if found is not None:
        return found
    digest = hashlib.sha256(email.encode()).hexdigest()[:40]
    customer_id = gateway().create_customer(email, idempotency_key=f"buyer-customer-{digest}")
    try:
        with db.session.begin_nested():
            db.session.add(BuyerCustomer(email=email, stripe_customer_id=customer_id))
            db.session.flush()
    except IntegrityError:
        # Another pay page stored this email's customer first: that one is the buyer's.
        stored = _stored(email)
        if stored is None:
            raise
        return stored
    return customer_id


def _stored(email: str) -> str | None:
    return db.session.scalar(
        select(BuyerCustomer.stripe_customer_id).where(BuyerCustomer.email == email)
    )


def saving_for(order: Order, keep: bool) -> CardSaving | None:
    """What the payment about to start is told: keep the card (the buyer ticked the box:
    its time is recorded) or not (nothing is sent, no customer is made)."""
    if not keep:
        order.card_consent_at = None
        return None
    customer_id = customer_for(order.buyer_email)
    order.card_consent_at = utcnow()
    order.stripe_customer_id = customer_id
    return CardSaving(customer_id, keep=True)


def note_saved_card(order: Order, snapshot: PaymentIntentSnapshot) -> None:
    """Record the card Stripe kept for the order, once a payment the buyer agreed to save
    has authorized (from whichever reports it first: the answer, a webhook, a re-read)."""
    if order.card_consent_at is None or snapshot.status not in _AUTHORIZED:
        return
    method, customer = snapshot.payment_method_id, snapshot.customer_id
    if method is None or customer is None or method == order.saved_payment_method_id:
        return
    order.saved_payment_method_id = method
    order.stripe_customer_id = customer
    timeline.append(
        order,
        TimelineKind.STATE_CHANGE,
        "Card kept on file with the buyer's consent (for a new hold later)",
        data={
            "payment_method": method,
            "customer": customer,
            "payment_intent": snapshot.id,
            "consent_at": order.card_consent_at.isoformat(),
        },
    )
