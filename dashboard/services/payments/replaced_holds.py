"""Releasing the hold a new one replaced (re-authorizing, or the buyer's new pay link).

Each release is a saved request of its own (`cancel_replaced_hold`, its key first, the old
PaymentIntent in `stripe_object_id`). Staff's action and the pay page release at once. A
webhook that makes the new hold the order's payment must not call Stripe (it is applied
with other deliveries in one transaction, which a call would commit halfway and hold up),
so it only saves the request; the next `flask stripe sweep-holds`, or "Check with Stripe"
on the order page, sends it.
"""

from __future__ import annotations

from sqlalchemy import select

from dashboard.domain.stripe_mapping import CancellationReason
from dashboard.extensions import db
from dashboard.models import Order, RequestStatus, StripeRequest, User
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.services.payments import ledger

ACTION = "cancel_replaced_hold"


def release(order: Order, payment_intent_id: str, actor: User | None) -> str:
    """Cancel the replaced hold now; what became of it, in words."""
    return _send(order, defer(order, payment_intent_id, actor))


def defer(order: Order, payment_intent_id: str, actor: User | None) -> StripeRequest:
    """Save the release, to be sent outside this transaction (`release_waiting`)."""
    request = ledger.begin(order, ACTION, None, actor)
    request.stripe_object_id = payment_intent_id
    db.session.flush()
    return request


def release_waiting(order: Order) -> list[str]:
    """Send the order's saved releases that were never sent; what became of each."""
    waiting = db.session.scalars(
        select(StripeRequest)
        .where(
            StripeRequest.order_id == order.id,
            StripeRequest.action == ACTION,
            StripeRequest.status == RequestStatus.PENDING.value,
        )
        .order_by(StripeRequest.id)
    ).all()
    return [_send(order, request) for request in waiting]


def _send(order: Order, request: StripeRequest) -> str:
    payment_intent_id = request.stripe_object_id or ""
    result = ledger.send(
        order,
        request,
        "release the replaced hold",
        lambda: gateway().cancel_payment_intent(
            payment_intent_id,
            reason=CancellationReason.DUPLICATE.value,
            idempotency_key=request.idempotency_key,
        ),
    )
    if isinstance(result, errors.PaymentError):
        return (
            f"The hold {payment_intent_id} could not be released now ({result.message}); "
            "it lapses by itself."
        )
    return f"The hold {payment_intent_id} was released."
