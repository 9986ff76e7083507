"""Refund events: whether one of our refunds (found by the key in its metadata) or one made
in Stripe's Dashboard went through or failed, applied from the PaymentIntent re-read."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.domain.state_machine import state_for_refunds
from dashboard.domain.stripe_mapping import MAPPING_VERSION, refund_counts
from dashboard.extensions import db
from dashboard.models import (
    IN_FLIGHT,
    Order,
    RequestStatus,
    StripeRequest,
    TimelineKind,
    utcnow,
)
from dashboard.payments.charges import refund_details
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import PaymentIntentSnapshot, refund_from_event
from dashboard.services import timeline
from dashboard.services.inbox.handlers.outcomes import (
    Outcome,
    applied,
    ignored,
    other_attempt,
    result,
)
from dashboard.services.inbox.handlers.registry import MatchedEvent, handles
from dashboard.services.payments import fees, ledger, records
from dashboard.services.payments.apply import apply_payment_intent


@handles(
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
    rereads_stripe=True,
)
def on_refund(event: MatchedEvent) -> Outcome:
    order = event.order
    refund = refund_from_event(event.object)
    other = other_attempt(order, refund.payment_intent_id)
    if other is not None:
        return other
    payment_intent_id = refund.payment_intent_id or order.stripe_payment_intent_id
    if payment_intent_id is None:
        return ignored("The refund belongs to no payment this order knows.")
    request = None
    if refund.idempotency_key:
        request = db.session.scalar(
            select(StripeRequest).where(
                StripeRequest.order_id == order.id,
                StripeRequest.idempotency_key == refund.idempotency_key,
            )
        )
    who = f"our refund {request.idempotency_key}" if request else "made outside the dashboard"
    details = refund_details(event.object)
    if details is not None:
        records.keep_refund(order, details, request)
    truth = gateway().retrieve_payment_intent(payment_intent_id)
    if not refund_counts(refund.status):
        return _refund_failed(order, refund.id, refund.failure_reason, request, truth, who)
    if request is not None and request.status in IN_FLIGHT:
        ledger.finish(
            order,
            request,
            RequestStatus.SUCCEEDED,
            what=f"refund (confirmed by webhook {event.type})",
            object_id=refund.id,
        )
    outcome = result(
        apply_payment_intent(order, truth, source=f"webhook {event.type}; {who}"),
        f"refund {refund.id} is {refund.status}",
    )
    fees.fetch_missing(order)
    return Outcome(outcome.status, f"{outcome.reason} ({who}, {refund.status})", flag=outcome.flag)


def _refund_failed(
    order: Order,
    refund_id: str,
    failure_reason: str | None,
    request: StripeRequest | None,
    truth: PaymentIntentSnapshot,
    who: str,
) -> Outcome:
    """A refund Stripe accepted has failed: the money stays with the merchant, so the
    refunded amount goes down (the one move back the state machine allows)."""
    why = failure_reason or "no reason given"
    if request is not None and request.status != RequestStatus.FAILED.value:
        request.status = RequestStatus.FAILED.value
        request.error_code = "refund_failed"
        request.error_message = f"The refund failed after Stripe accepted it: {why}."[:500]
        request.completed_at = request.completed_at or utcnow()
    order.refund_failed_at = order.refund_failed_at or utcnow()
    refunded = min(truth.amounts.refunded, order.amount_captured)
    if refunded >= order.amount_refunded:
        return ignored(f"Refund {refund_id} failed ({why}), but Stripe's amounts already say so.")
    before = order.order_state
    after = state_for_refunds(order.amount_captured, refunded)
    timeline.append(
        order,
        TimelineKind.STATE_CHANGE,
        f"{before.label} → {after.label} (refund {refund_id} failed: {why}; refunded "
        f"{order.money(order.amount_refunded)} → {order.money(refunded)}, the money "
        "stays with the merchant)",
        data={
            "from": before.value,
            "to": after.value,
            "event": "refund_failed",
            "refund": refund_id,
            "reason": why,
            "refunded": refunded,
            "captured": order.amount_captured,
            "mapping_version": MAPPING_VERSION,
        },
    )
    order.amount_refunded = refunded
    order.state = after.value
    db.session.flush()
    return applied(f"refund {refund_id} failed ({why}, {who}): refunded amount corrected")
