"""Cards kept for later, with the buyer's consent: one Stripe Customer per buyer email
(found or made, safely when two pay pages ask at once), what an order's payment is told
about keeping the card, and the card Stripe saved once the payment authorized."""

from __future__ import annotations

from dashboard.domain.stripe_mapping import PaymentIntentStatus
from dashboard.models import Order, TimelineKind, utcnow
from dashboard.payments.saved_cards import CardSaving
from dashboard.payments.snapshots import PaymentIntentSnapshot
from dashboard.services import customers, payment_methods, timeline

# The words beside the box on our pay page; the consent is to exactly these.
CONSENT_TEXT = (
    "Keep this card on file so the shop can place a new hold if this one runs out. "
    "You can ask the shop to remove it."
)
# A payment in these states has a card Stripe has saved, when it was asked to.
_AUTHORIZED = frozenset({PaymentIntentStatus.REQUIRES_CAPTURE, PaymentIntentStatus.SUCCEEDED})


def customer_for(order: Order) -> str:
    """The buyer's Stripe Customer: the one their customer already has, else a new one
    (services/customers.py: one customer per normalised email, safe when two pay pages of
    the same buyer ask at once). The order is linked to the customer."""
    return customers.ensure_stripe_customer(customers.link_order(order))


def saving_for(order: Order, keep: bool) -> CardSaving | None:
    """What the payment about to start is told: keep the card (the buyer ticked the box:
    its time is recorded) or not (nothing is sent, no customer is made)."""
    if not keep:
        order.card_consent_at = None
        return None
    customer_id = customer_for(order)
    order.card_consent_at = utcnow()
    order.stripe_customer_id = customer_id
    return CardSaving(customer_id, keep=True)


def note_saved_card(order: Order, snapshot: PaymentIntentSnapshot) -> None:
    """Record the card Stripe kept for the order, once a payment the buyer agreed to save
    has authorized (from whichever reports it first: the answer, a webhook, a re-read)."""
    if snapshot.status not in _AUTHORIZED:
        return
    # The buyer paid: the order belongs to their customer, card kept or not.
    customers.link_order(order)
    if order.card_consent_at is None:
        return
    method, customer = snapshot.payment_method_id, snapshot.customer_id
    if method is None or customer is None or method == order.saved_payment_method_id:
        return
    order.saved_payment_method_id = method
    order.stripe_customer_id = customer
    buyer = customers.link_order(order)
    if buyer.stripe_customer_id is None:
        buyer.stripe_customer_id = customer
    payment_methods.keep(
        buyer,
        method,
        card=snapshot.charge.card if snapshot.charge is not None else None,
        consent_at=order.card_consent_at,
        source=f"order {order.number}",
    )
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
