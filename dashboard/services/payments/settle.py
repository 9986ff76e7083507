"""Finding out from Stripe how things stand: settle a request that got no answer, exactly
once, or re-read an order's payment and apply it.

The truth is read from Stripe first: the PaymentIntent for a capture or a void, the refund
carrying the request's key for a refund. Only when Stripe shows nothing is the very same
request sent again (same key, same parameters): Stripe answers a key it has already seen
with the first answer, so a resend can never move money a second time.
"""

from __future__ import annotations

from datetime import timedelta

from dashboard.domain.state_machine import StaffAction
from dashboard.domain.stripe_mapping import PaymentIntentStatus
from dashboard.models import Order, RequestStatus, StripeRequest, utcnow
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import CheckoutSessionSnapshot, PaymentIntentSnapshot
from dashboard.services.payments import (
    fees,
    holds,
    ledger,
    records,
    renewal,
    replaced_holds,
    staff,
)
from dashboard.services.payments.apply import (
    apply_checkout_session,
    apply_payment_intent,
    count_refund,
)
from dashboard.services.payments.results import ActionResult

# A pending request older than this has outlived every timeout: it can be settled.
PENDING_GRACE = timedelta(seconds=90)
# Stripe keeps an idempotency key's answer for at least 24 hours; stay inside that.
IDEMPOTENCY_WINDOW = timedelta(hours=23)
# What the PaymentIntent shows once a capture or a void went through.
_DONE = {
    StaffAction.CAPTURE.value: PaymentIntentStatus.SUCCEEDED,
    StaffAction.VOID.value: PaymentIntentStatus.CANCELED,
}


def settle(order_id: int) -> ActionResult:
    """Find out how an unanswered request ended, and finish it exactly once."""
    order = ledger.lock_order(order_id)
    released = replaced_holds.release_waiting(order)
    request = ledger.in_flight(order)
    if request is None:
        refreshed = refresh_from_stripe(order_id)
        if not released:
            return refreshed
        return ActionResult(refreshed.ok, " ".join([*released, refreshed.message]))
    if (
        request.status == RequestStatus.PENDING.value
        and utcnow() - request.created_at < PENDING_GRACE
    ):
        return ActionResult(
            False,
            "Stripe has not answered yet. Check again in a moment.",
            awaiting_confirmation=True,
        )
    if request.action in renewal.RENEWALS:
        return renewal.settle_request(order, request)
    payment_intent_id = order.stripe_payment_intent_id or ""
    truth = _read(payment_intent_id)
    if isinstance(truth, errors.PaymentError):
        return ActionResult(False, truth.message, awaiting_confirmation=True)
    if request.action == StaffAction.REFUND.value:
        return _settle_refund(order, request, payment_intent_id)
    done = (
        truth.status == _DONE[request.action]
        if request.action in _DONE
        else holds.done_at_stripe(request, truth, order)
    )
    if done:
        ledger.finish(
            order,
            request,
            RequestStatus.SUCCEEDED,
            what=f"{request.action} (confirmed by re-reading the payment)",
            object_id=truth.id,
            request_id=truth.request_id,
        )
        apply_payment_intent(order, truth, source="settlement re-read")
        return ActionResult(True, f"Confirmed with Stripe: the {request.action} went through.")
    if request.error_code == errors.STRIPE_INTERNAL_ERROR:
        # Stripe keeps a 500 as the answer for its key: resending would only replay it. The
        # payment, re-read just now, shows nothing happened, so a new attempt is safe.
        return _did_not_happen(order, request)
    return staff.send(order, request)


def _settle_refund(order: Order, request: StripeRequest, payment_intent_id: str) -> ActionResult:
    try:
        found = gateway().find_refund(payment_intent_id, request.idempotency_key)
    except errors.PaymentError as error:
        return ActionResult(False, error.message, awaiting_confirmation=True)
    if found is not None:
        ledger.finish(
            order,
            request,
            RequestStatus.SUCCEEDED,
            what="refund (found at Stripe by its key)",
            object_id=found.id,
            request_id=found.request_id,
        )
        if found.details is not None:
            records.keep_refund(order, found.details, request)
        count_refund(order, found.amount, source="settlement")
        return ActionResult(True, f"Confirmed with Stripe: refunded {order.money(found.amount)}.")
    too_old = utcnow() - request.created_at > IDEMPOTENCY_WINDOW
    if request.error_code == errors.STRIPE_INTERNAL_ERROR or too_old:
        # No refund with our key exists, and resending would replay a stored 500 or, once
        # Stripe has forgotten the key, could refund twice: close it as not done.
        return _did_not_happen(order, request)
    return staff.send(order, request)


def _did_not_happen(order: Order, request: StripeRequest) -> ActionResult:
    failure = errors.InvalidRequest(
        f"Stripe shows the {request.action} did not happen. Nothing moved; you can try again.",
        code=request.error_code or "not_found_at_stripe",
    )
    ledger.finish(order, request, RequestStatus.FAILED, what=request.action, error=failure)
    if request.action == StaffAction.CAPTURE.value:
        staff.capture_failed(order, request, failure.message)
    return ActionResult(False, failure.message)


def _read(payment_intent_id: str) -> PaymentIntentSnapshot | errors.PaymentError:
    try:
        return gateway().retrieve_payment_intent(payment_intent_id)
    except errors.PaymentError as error:
        return error


def _read_session(order: Order) -> CheckoutSessionSnapshot | errors.PaymentError:
    try:
        return gateway().retrieve_checkout_session(order.stripe_checkout_session_id or "")
    except errors.PaymentError as error:
        return error


def refresh_from_stripe(order_id: int) -> ActionResult:
    """Re-read the order's payment from Stripe and apply what it says."""
    order = ledger.lock_order(order_id)
    if order.stripe_payment_intent_id is None and order.stripe_checkout_session_id:
        session = _read_session(order)
        if isinstance(session, errors.PaymentError):
            return ActionResult(False, session.message)
        apply_checkout_session(order, session, source="re-read")
    if order.stripe_payment_intent_id is None:
        return ActionResult(True, "No payment has been started for this order yet.")
    truth = _read(order.stripe_payment_intent_id)
    if isinstance(truth, errors.PaymentError):
        return ActionResult(False, truth.message)
    apply_payment_intent(order, truth, source="re-read")
    fees.fetch_missing(order)
    if order.renewal_payment_intent_id is not None:
        renewed = _read(order.renewal_payment_intent_id)
        if isinstance(renewed, errors.PaymentError):
            return ActionResult(False, renewed.message)
        if renewed.status == PaymentIntentStatus.REQUIRES_CAPTURE:
            return renewal.adopt(order, renewed, source="re-read")
    return ActionResult(True, f"Up to date with Stripe: {order.order_state.label.lower()}.")
