"""Payments for an order: start one, and capture, void or refund its hold, exactly once.

Money actions break the "services only flush" rule on purpose, in one place: the
idempotency key is committed *before* Stripe is called, so a crash, a timeout or a second
click can always be matched to the request already made. The row it is saved in doubles
as the lock: one money movement in flight per order (a partial unique index).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import (
    Ignored,
    IllegalTransition,
    PaymentEvent,
    StaffAction,
    Transition,
    check_action,
    next_state,
    path_to,
)
from dashboard.domain.stripe_mapping import (
    CHECKOUT_SESSION_STATUS,
    MAPPING_VERSION,
    PAYABLE_STATUSES,
    CheckoutSessionStatus,
    PaymentIntentStatus,
    UnmappedStatus,
    event_for_payment_intent,
)
from dashboard.extensions import db
from dashboard.models import (
    IN_FLIGHT,
    Order,
    RequestStatus,
    StripeRequest,
    TimelineKind,
    User,
    utcnow,
)
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import CheckoutSessionSnapshot, PaymentIntentSnapshot
from dashboard.services import outbox, timeline
from dashboard.services.outbox import OutboxType

log = logging.getLogger(__name__)

PI = PaymentIntentStatus

VOID_REASONS = {
    "requested_by_customer": "Requested by the customer",
    "duplicate": "Duplicate order",
    "fraudulent": "Suspected fraud",
    "abandoned": "Abandoned",
}
REFUND_REASONS = {
    "requested_by_customer": "Requested by the customer",
    "duplicate": "Duplicate charge",
    "fraudulent": "Fraudulent",
}
# A pending request older than this has outlived every timeout: it can be settled.
PENDING_GRACE = timedelta(seconds=90)
# Stripe keeps an idempotency key's answer for at least 24 hours; stay inside that.
IDEMPOTENCY_WINDOW = timedelta(hours=23)
STARTABLE = (OrderState.OPEN, OrderState.FAILED, OrderState.PROCESSING)


class ActionRefused(Exception):
    """Not sent to Stripe: the order's state or the amount does not allow it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ActionInProgress(ActionRefused):
    """Another money action on this order is still waiting for Stripe's answer."""


class OrderNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str
    awaiting_confirmation: bool = False


# -- reading Stripe's answers into the order --------------------------------------------


def apply_payment_intent(
    order: Order, snapshot: PaymentIntentSnapshot, *, source: str
) -> Transition | Ignored | None:
    """Move the order forward to what the PaymentIntent says; never backwards.

    A payment captured and refunded elsewhere (Stripe's Dashboard) can be read while the
    order still shows the hold: it is walked through the capture first (`path_to`).
    """
    if order.stripe_payment_intent_id is None:
        order.stripe_payment_intent_id = snapshot.id
    if snapshot.charge_id:
        order.stripe_charge_id = snapshot.charge_id
    event = payment_event(snapshot)
    if event is None:
        return None
    outcome: Transition | Ignored | None = None
    for step in path_to(order.order_state, event):
        try:
            outcome = move(order, step, source=source, detail=f"payment intent {snapshot.status}")
        except IllegalTransition as illegal:
            outcome = _refuse(order, step, source=source, reason=str(illegal))
        if isinstance(outcome, Transition):
            _take_amounts(order, step, snapshot)
    return outcome


def payment_event(snapshot: PaymentIntentSnapshot) -> PaymentEvent | None:
    """What the PaymentIntent stands for, through the versioned mapping table."""
    return event_for_payment_intent(
        snapshot.status,
        amounts=snapshot.amounts,
        cancellation_reason=snapshot.cancellation_reason,
        has_failed_attempt=snapshot.last_error_code is not None,
    )


def _take_amounts(order: Order, event: PaymentEvent, snapshot: PaymentIntentSnapshot) -> None:
    amounts = snapshot.amounts
    order.amount_authorized = max(order.amount_authorized, amounts.authorized)
    order.amount_captured = max(order.amount_captured, amounts.captured)
    order.amount_refunded = max(order.amount_refunded, amounts.refunded)
    order.amount_capturable = amounts.capturable
    if event is PaymentEvent.AUTHORIZED:
        order.authorized_at = order.authorized_at or utcnow()
        order.capture_before = snapshot.hold_deadline
    if event is PaymentEvent.FAILED and snapshot.last_error_message:
        order.last_payment_error = snapshot.last_error_message[:500]
    _emit_for(order, event, snapshot.id)


def _refuse(order: Order, event: PaymentEvent, *, source: str, reason: str) -> Ignored:
    """What Stripe said cannot be applied: keep it visible on the timeline, change nothing."""
    timeline.append(
        order,
        TimelineKind.STATE_CHANGE,
        f"Not applied ({source}): {reason}",
        data={"event": event.value, "source": source, "mapping_version": MAPPING_VERSION},
    )
    return Ignored(state=order.order_state, event=event, reason=reason)


def move(order: Order, event: PaymentEvent, *, source: str, detail: str) -> Transition | Ignored:
    outcome = next_state(order.order_state, event)
    if isinstance(outcome, Transition) and outcome.changed:
        order.state = outcome.after.value
        timeline.append(
            order,
            TimelineKind.STATE_CHANGE,
            f"{outcome.before.label} → {outcome.after.label} ({detail}, from {source})",
            data={
                "from": outcome.before.value,
                "to": outcome.after.value,
                "event": event.value,
                "source": source,
                "mapping_version": MAPPING_VERSION,
            },
        )
    return outcome


def _emit_for(order: Order, event: PaymentEvent, payment_intent_id: str) -> None:
    if event is PaymentEvent.CAPTURED:
        outbox.emit(
            order,
            OutboxType.PAYMENT_SUCCEEDED,
            f"{order.id}:{payment_intent_id}",
            payment_intent=payment_intent_id,
            amount_captured=order.amount_captured,
        )
    elif event is PaymentEvent.FAILED:
        outbox.emit(
            order,
            OutboxType.PAYMENT_FAILED,
            f"{order.id}:{payment_intent_id}:authorization",
            payment_intent=payment_intent_id,
            stage="authorization",
            reason=order.last_payment_error,
        )


# -- the request ledger ---------------------------------------------------------------


def lock_order(order_id: int) -> Order:
    """The order row, locked until commit (PostgreSQL); SQLite serialises writers anyway.

    Re-read once locked (populate_existing): an Order already in the session, loaded before
    the lock, would otherwise keep the state another worker has since changed.
    """
    order = db.session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound(order_id)
    return order


def in_flight(order: Order) -> StripeRequest | None:
    return db.session.scalar(
        select(StripeRequest).where(
            StripeRequest.order_id == order.id,
            StripeRequest.status.in_(IN_FLIGHT),
            StripeRequest.action.in_([a.value for a in StaffAction]),
        )
    )


def _begin(
    order: Order,
    action: str,
    amount: int | None,
    actor: User | None,
    reason: str | None = None,
) -> StripeRequest:
    """Save the request and its idempotency key, derived from the action, before calling."""
    same = [StripeRequest.order_id == order.id, StripeRequest.action == action]
    if amount is not None:
        same.append(StripeRequest.amount == amount)
    count: int = db.session.scalar(select(func.count(StripeRequest.id)).where(*same)) or 0
    attempt = 1 + count
    request = StripeRequest(
        order_id=order.id,
        action=action,
        amount=amount,
        reason=reason,
        idempotency_key=f"order-{order.id}-{action}-{amount or 0}-{attempt}",
        status=RequestStatus.PENDING.value,
        actor=actor,
    )
    try:
        with db.session.begin_nested():
            db.session.add(request)
            db.session.flush()
    except IntegrityError as error:
        raise ActionInProgress(
            "Another action on this order is still waiting for Stripe. Nothing new was sent."
        ) from error
    return request


def finish_request(
    order: Order,
    request: StripeRequest,
    status: RequestStatus,
    *,
    what: str,
    object_id: str | None = None,
    request_id: str | None = None,
    error: errors.PaymentError | None = None,
) -> None:
    request.status = status.value
    request.stripe_object_id = object_id or request.stripe_object_id
    request.stripe_request_id = request_id or (error.request_id if error else None)
    if error is not None:
        request.error_code = (error.code or type(error).__name__)[:64]
        request.error_message = error.message[:500]
    if status is not RequestStatus.UNKNOWN:
        request.completed_at = utcnow()
    outcome = {
        RequestStatus.SUCCEEDED: "succeeded",
        RequestStatus.FAILED: f"failed: {error.message if error else ''}",
        RequestStatus.UNKNOWN: "no answer; awaiting confirmation",
        RequestStatus.PENDING: "sent",
    }[status]
    timeline.append(
        order,
        TimelineKind.API_CALL,
        f"Stripe {what}: {outcome}",
        actor=request.actor,
        data={
            "action": request.action,
            "amount": request.amount,
            "idempotency_key": request.idempotency_key,
            "stripe_request_id": request.stripe_request_id,
            "stripe_object_id": request.stripe_object_id,
            "status": request.status,
            "error_code": request.error_code,
        },
    )
    db.session.flush()


class _StripeAnswer(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def request_id(self) -> str | None: ...


Answer = TypeVar("Answer", bound=_StripeAnswer)


def _call(
    order: Order,
    request: StripeRequest,
    what: str,
    call: Callable[[], Answer],
) -> Answer | errors.PaymentError:
    """Make the Stripe call for a saved request and record how it ended.

    The order is locked again (and re-read) once Stripe has answered: a webhook about this
    very call may have been applied by another worker in the meantime.
    """
    try:
        result = call()
    except errors.PaymentError as error:
        db.session.refresh(order, with_for_update=True)
        status = RequestStatus.UNKNOWN if error.outcome_unknown else RequestStatus.FAILED
        finish_request(order, request, status, what=what, error=error)
        return error
    db.session.refresh(order, with_for_update=True)
    finish_request(
        order,
        request,
        RequestStatus.SUCCEEDED,
        what=what,
        object_id=result.id,
        request_id=result.request_id,
    )
    return result


# -- staff actions --------------------------------------------------------------------


def _prepare(order_id: int, action: StaffAction) -> Order:
    order = lock_order(order_id)
    try:
        check_action(order.order_state, action)
    except IllegalTransition as error:
        raise ActionRefused(str(error)) from error
    if order.stripe_payment_intent_id is None:
        raise ActionRefused("This order has no Stripe payment to act on.")
    if in_flight(order) is not None:
        raise ActionInProgress(
            "Another action on this order is still waiting for Stripe. Nothing new was sent."
        )
    gateway()  # a missing key is reported before anything is written
    return order


def _ask(
    order: Order,
    actor: User | None,
    action: StaffAction,
    amount: int | None,
    summary: str,
    **data: object,
) -> StripeRequest:
    reason = data.get("reason")
    request = _begin(order, action.value, amount, actor, str(reason) if reason else None)
    timeline.append(
        order,
        TimelineKind.STAFF_ACTION,
        f"{actor.email if actor else 'The system'} asked to {summary}",
        actor=actor,
        data={
            "action": action.value,
            "amount": amount,
            "idempotency_key": request.idempotency_key,
            **data,
        },
    )
    # Durable before any money moves: see the module docstring.
    db.session.commit()
    return request


def capture_hold(order_id: int, amount: int, actor: User) -> ActionResult:
    order = _prepare(order_id, StaffAction.CAPTURE)
    if not 0 < amount <= order.amount_capturable:
        raise ActionRefused(
            f"Capture between {order.money(1)} and {order.money(order.amount_capturable)}."
        )
    released = order.amount_capturable - amount
    summary = f"capture {order.money(amount)}" + (
        f" (releasing the other {order.money(released)})" if released else ""
    )
    request = _ask(order, actor, StaffAction.CAPTURE, amount, summary)
    return _send_capture(order, request)


def _send_capture(order: Order, request: StripeRequest) -> ActionResult:
    amount = request.amount or 0
    payment_intent_id = order.stripe_payment_intent_id or ""
    result = _call(
        order,
        request,
        "capture",
        lambda: gateway().capture_payment_intent(
            payment_intent_id, amount=amount, idempotency_key=request.idempotency_key
        ),
    )
    if isinstance(result, errors.PaymentError):
        # Only Stripe's "no" is a failed capture; a 429 or a missing key leaves the hold intact.
        if isinstance(result, errors.CardDeclined | errors.InvalidRequest):
            outbox.emit(
                order,
                OutboxType.PAYMENT_FAILED,
                f"{order.id}:{request.idempotency_key}",
                payment_intent=payment_intent_id,
                stage="capture",
                reason=result.message,
            )
        return ActionResult(False, result.message, awaiting_confirmation=result.outcome_unknown)
    apply_payment_intent(order, result, source="capture response")
    return ActionResult(True, f"Captured {order.money(order.amount_captured)}.")


def void_hold(order_id: int, reason: str, actor: User | None) -> ActionResult:
    """Release the hold; `actor` None is the system (the authorization sweep)."""
    if reason not in VOID_REASONS:
        raise ActionRefused("Choose a reason for the void.")
    order = _prepare(order_id, StaffAction.VOID)
    summary = f"void the hold of {order.money(order.amount_capturable)} ({VOID_REASONS[reason]})"
    request = _ask(order, actor, StaffAction.VOID, None, summary, reason=reason)
    return _send_void(order, request)


def _send_void(order: Order, request: StripeRequest) -> ActionResult:
    """Send (or resend) a saved void exactly as it was asked: same key, same reason."""
    payment_intent_id = order.stripe_payment_intent_id or ""
    reason = request.reason or "requested_by_customer"
    result = _call(
        order,
        request,
        "void",
        lambda: gateway().cancel_payment_intent(
            payment_intent_id, reason=reason, idempotency_key=request.idempotency_key
        ),
    )
    if isinstance(result, errors.PaymentError):
        return ActionResult(False, result.message, awaiting_confirmation=result.outcome_unknown)
    apply_payment_intent(order, result, source="void response")
    return ActionResult(True, "The hold was released; nothing was charged.")


def refund_payment(order_id: int, amount: int, reason: str, actor: User) -> ActionResult:
    if reason not in REFUND_REASONS:
        raise ActionRefused("Choose a reason for the refund.")
    order = _prepare(order_id, StaffAction.REFUND)
    if not 0 < amount <= order.amount_refundable:
        raise ActionRefused(
            f"Refund between {order.money(1)} and {order.money(order.amount_refundable)}."
        )
    summary = f"refund {order.money(amount)} ({REFUND_REASONS[reason]})"
    request = _ask(order, actor, StaffAction.REFUND, amount, summary, reason=reason)
    return _send_refund(order, request)


def _send_refund(order: Order, request: StripeRequest) -> ActionResult:
    """Send (or resend) a saved refund exactly as it was asked: same key, amount, reason."""
    amount = request.amount or 0
    reason = request.reason or "requested_by_customer"
    payment_intent_id = order.stripe_payment_intent_id or ""
    result = _call(
        order,
        request,
        "refund",
        lambda: gateway().create_refund(
            payment_intent_id,
            amount=amount,
            reason=reason,
            order_id=order.id,
            idempotency_key=request.idempotency_key,
        ),
    )
    if isinstance(result, errors.PaymentError):
        return ActionResult(False, result.message, awaiting_confirmation=result.outcome_unknown)
    _apply_refund(order, result.amount, source="refund response")
    return ActionResult(True, f"Refunded {order.money(result.amount)}.")


def _apply_refund(order: Order, amount: int, *, source: str) -> None:
    """Count one of our refunds, which has just succeeded, exactly once.

    A webhook may have counted it already (its charge's refunded total), so the new total
    is the larger of what the order knows and the sum of our succeeded refunds, never a sum.
    """
    ours = db.session.scalar(
        select(func.coalesce(func.sum(StripeRequest.amount), 0)).where(
            StripeRequest.order_id == order.id,
            StripeRequest.action == StaffAction.REFUND.value,
            StripeRequest.status == RequestStatus.SUCCEEDED.value,
        )
    )
    refunded = min(max(order.amount_refunded, int(ours or 0)), order.amount_captured)
    if refunded <= order.amount_refunded:
        return
    event = (
        PaymentEvent.REFUNDED
        if refunded >= order.amount_captured
        else PaymentEvent.PARTIALLY_REFUNDED
    )
    outcome = move(order, event, source=source, detail=f"refund of {order.money(amount)}")
    if isinstance(outcome, Transition):
        order.amount_refunded = refunded
        db.session.flush()


def settle(order_id: int, actor: User | None) -> ActionResult:
    """Find out how an unanswered request ended, and finish it exactly once.

    The truth is read from Stripe first: the PaymentIntent for a capture or a void, the
    refund carrying the request's key for a refund. Only when Stripe shows nothing is the
    very same request sent again (same key, same parameters): Stripe answers a key it has
    already seen with the first answer, so a resend can never move money a second time.
    """
    order = lock_order(order_id)
    request = in_flight(order)
    if request is None:
        return refresh_from_stripe(order_id)
    if (
        request.status == RequestStatus.PENDING.value
        and utcnow() - request.created_at < PENDING_GRACE
    ):
        return ActionResult(
            False,
            "Stripe has not answered yet. Check again in a moment.",
            awaiting_confirmation=True,
        )
    payment_intent_id = order.stripe_payment_intent_id or ""
    truth = _read(order, payment_intent_id)
    if isinstance(truth, errors.PaymentError):
        return ActionResult(False, truth.message, awaiting_confirmation=True)
    if request.action == StaffAction.REFUND.value:
        return _settle_refund(order, request, payment_intent_id)
    done = PI.SUCCEEDED if request.action == StaffAction.CAPTURE.value else PI.CANCELED
    if truth.status == done:
        finish_request(
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
        return _did_not_happen(order, request, payment_intent_id)
    db.session.commit()
    if request.action == StaffAction.CAPTURE.value:
        return _send_capture(order, request)
    return _send_void(order, request)


def _settle_refund(order: Order, request: StripeRequest, payment_intent_id: str) -> ActionResult:
    try:
        found = gateway().find_refund(payment_intent_id, request.idempotency_key)
    except errors.PaymentError as error:
        return ActionResult(False, error.message, awaiting_confirmation=True)
    if found is not None:
        finish_request(
            order,
            request,
            RequestStatus.SUCCEEDED,
            what="refund (found at Stripe by its key)",
            object_id=found.id,
            request_id=found.request_id,
        )
        _apply_refund(order, found.amount, source="settlement")
        return ActionResult(True, f"Confirmed with Stripe: refunded {order.money(found.amount)}.")
    too_old = utcnow() - request.created_at > IDEMPOTENCY_WINDOW
    if request.error_code == errors.STRIPE_INTERNAL_ERROR or too_old:
        # No refund with our key exists, and resending would replay a stored 500 or, once
        # Stripe has forgotten the key, could refund twice: close it as not done.
        return _did_not_happen(order, request, payment_intent_id)
    db.session.commit()
    return _send_refund(order, request)


def _did_not_happen(order: Order, request: StripeRequest, payment_intent_id: str) -> ActionResult:
    failure = errors.InvalidRequest(
        f"Stripe shows the {request.action} did not happen. Nothing moved; you can try again.",
        code=request.error_code or "not_found_at_stripe",
    )
    finish_request(order, request, RequestStatus.FAILED, what=request.action, error=failure)
    if request.action == StaffAction.CAPTURE.value:
        outbox.emit(
            order,
            OutboxType.PAYMENT_FAILED,
            f"{order.id}:{request.idempotency_key}",
            payment_intent=payment_intent_id,
            stage="capture",
            reason=failure.message,
        )
    return ActionResult(False, failure.message)


def _read(order: Order, payment_intent_id: str) -> PaymentIntentSnapshot | errors.PaymentError:
    try:
        return gateway().retrieve_payment_intent(payment_intent_id)
    except errors.PaymentError as error:
        return error


def refresh_from_stripe(order_id: int) -> ActionResult:
    """Re-read the order's payment from Stripe and apply what it says."""
    order = lock_order(order_id)
    if order.stripe_payment_intent_id is None and order.stripe_checkout_session_id:
        session = _read_session(order)
        if isinstance(session, errors.PaymentError):
            return ActionResult(False, session.message)
        apply_checkout_session(order, session, source="re-read")
    if order.stripe_payment_intent_id is None:
        return ActionResult(True, "No payment has been started for this order yet.")
    truth = _read(order, order.stripe_payment_intent_id)
    if isinstance(truth, errors.PaymentError):
        return ActionResult(False, truth.message)
    apply_payment_intent(order, truth, source="re-read")
    return ActionResult(True, f"Up to date with Stripe: {order.order_state.label.lower()}.")


# -- buyers: starting a payment ---------------------------------------------------------


def _check_startable(order: Order) -> None:
    gateway()  # a missing key is reported before anything is written
    if order.order_state not in STARTABLE:
        raise ActionRefused(f"This order is already {order.order_state.label.lower()}.")


def _started(order: Order, object_id: str) -> None:
    move(order, PaymentEvent.STARTED, source="pay page", detail="payment started")
    outbox.emit(order, OutboxType.ORDER_CREATED, str(order.id), payment_object=object_id)


def lock_startable(order_id: int) -> Order:
    """The order, locked, if a payment may be started for it."""
    order = lock_order(order_id)
    _check_startable(order)
    return order


def create_intent(
    order: Order,
    what: str,
    *,
    payment_method: str | None = None,
    confirm: bool = False,
) -> PaymentIntentSnapshot | errors.PaymentError:
    """Create (and with `confirm`, authorize) a manual-capture PaymentIntent for the order.

    A decline fails the attempt (the buyer may try again); anything else leaves the order.
    """
    request = _begin(order, "create_payment_intent", order.total_amount, None)
    db.session.commit()
    result = _call(
        order,
        request,
        what,
        lambda: gateway().create_payment_intent(
            amount=order.total_amount,
            currency=order.currency,
            order_id=order.id,
            idempotency_key=request.idempotency_key,
            payment_method=payment_method,
            confirm=confirm,
            description=f"Order {order.number}",
        ),
    )
    if isinstance(result, errors.CardDeclined):
        order.last_payment_error = result.message
        move(order, PaymentEvent.FAILED, source="pay page", detail=result.message)
        outbox.emit(
            order,
            OutboxType.PAYMENT_FAILED,
            f"{order.id}:{request.idempotency_key}",
            stage="authorization",
            reason=result.message,
        )
    if isinstance(result, errors.PaymentError):
        return result
    order.stripe_payment_intent_id = result.id
    _started(order, result.id)
    return result


def open_payment_intent(order_id: int) -> PaymentIntentSnapshot:
    """The order's PaymentIntent for our payment page: reused while it can still be paid."""
    order = lock_startable(order_id)
    if order.stripe_payment_intent_id:
        current = gateway().retrieve_payment_intent(order.stripe_payment_intent_id)
        if current.status in PAYABLE_STATUSES:
            return current
        apply_payment_intent(order, current, source="pay page")
        if current.status == PI.PROCESSING:
            # The bank has not answered the first payment: a second one could charge twice.
            raise ActionRefused(buyer_message(order, current))
        _check_startable(order)
    result = create_intent(order, "create payment intent")
    if isinstance(result, errors.PaymentError):
        raise result
    return result


def buyer_message(order: Order, snapshot: PaymentIntentSnapshot | None) -> str:
    """What the buyer is told about their payment, from what Stripe says."""
    status = snapshot.status if snapshot else None
    if status == PI.REQUIRES_CAPTURE or order.order_state is OrderState.AUTHORIZED:
        return "Authorized: the amount is held on your card; the merchant will capture it."
    if status == PI.SUCCEEDED or order.amount_captured:
        return "Paid: the merchant has captured your payment."
    if status == PI.REQUIRES_ACTION:
        return "Your bank needs you to verify this payment."
    if status == PI.PROCESSING:
        return "Still processing: your bank has not answered yet. This page will say when."
    if status == PI.CANCELED or order.order_state in (
        OrderState.VOIDED,
        OrderState.EXPIRED,
    ):
        return "This payment was cancelled; nothing was charged."
    if order.order_state is OrderState.FAILED or (snapshot and snapshot.last_error_message):
        reason = order.last_payment_error or (snapshot.last_error_message if snapshot else None)
        return f"Declined: {reason or 'the card was refused'}"
    return "Not paid yet."


# -- Checkout Sessions ------------------------------------------------------------------


def _read_session(order: Order) -> CheckoutSessionSnapshot | errors.PaymentError:
    try:
        return gateway().retrieve_checkout_session(order.stripe_checkout_session_id or "")
    except errors.PaymentError as error:
        return error


def apply_checkout_session(order: Order, session: CheckoutSessionSnapshot, *, source: str) -> None:
    """A session's own news; once it has a PaymentIntent, that PaymentIntent decides."""
    if session.payment_intent_id and order.stripe_payment_intent_id is None:
        order.stripe_payment_intent_id = session.payment_intent_id
    key = (session.status, session.payment_status)
    if key not in CHECKOUT_SESSION_STATUS:
        raise UnmappedStatus("checkout_session", f"{session.status}/{session.payment_status}")
    event = CHECKOUT_SESSION_STATUS[key]
    if event is PaymentEvent.FAILED:
        order.last_payment_error = "The checkout page expired before the payment was made."
    if event is not None and order.stripe_payment_intent_id is None:
        try:
            move(order, event, source=source, detail=f"checkout session {session.status}")
        except IllegalTransition as illegal:
            _refuse(order, event, source=source, reason=str(illegal))
    db.session.flush()


def start_checkout(order_id: int, *, success_url: str, cancel_url: str, lifetime: timedelta) -> str:
    """A Stripe Checkout URL for the order: the open session again, or a new one."""
    order = lock_order(order_id)
    _check_startable(order)
    if order.stripe_checkout_session_id:
        current = _read_session(order)
        if isinstance(current, errors.PaymentError):
            raise current
        if current.status == CheckoutSessionStatus.COMPLETE:
            apply_checkout_session(order, current, source="pay page")
            refreshed = refresh_from_stripe(order.id)
            raise ActionRefused(refreshed.message)
        if (
            current.status == CheckoutSessionStatus.OPEN
            and current.url
            and current.expires_at
            and (current.expires_at - utcnow() > timedelta(minutes=10))
        ):
            return current.url
        if current.status == CheckoutSessionStatus.OPEN:
            expire = _begin(order, "expire_checkout_session", None, None)
            db.session.commit()
            expired = _call(
                order,
                expire,
                "expire checkout session",
                lambda: gateway().expire_checkout_session(
                    current.id, idempotency_key=expire.idempotency_key
                ),
            )
            if isinstance(expired, errors.PaymentError):
                raise expired
    request = _begin(order, "create_checkout_session", order.total_amount, None)
    db.session.commit()
    session = _call(
        order,
        request,
        "create checkout session",
        lambda: gateway().create_checkout_session(
            order_id=order.id,
            currency=order.currency,
            line_items=[
                (line.description, line.quantity, line.unit_amount) for line in order.lines
            ],
            customer_email=order.buyer_email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=utcnow() + lifetime,
            idempotency_key=request.idempotency_key,
        ),
    )
    if isinstance(session, errors.PaymentError):
        raise session
    order.stripe_checkout_session_id = session.id
    _started(order, session.id)
    if not session.url:
        raise errors.InvalidRequest("Stripe did not return a checkout page address.")
    return session.url
