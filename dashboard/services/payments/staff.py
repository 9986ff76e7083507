"""Staff's money actions on a hold: capture, void, refund, each sent exactly once.

Each one locks the order, checks the state machine and the amount (nothing is sent
otherwise), saves its request on the ledger with the staff action on the timeline, and
sends it through `send`, the one path every capture, void and refund takes, the first time
and when `settle` resends it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboard.domain.state_machine import StaffAction
from dashboard.domain.stripe_mapping import RefundReason
from dashboard.models import Order, StripeRequest, TimelineKind, User
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import PaymentIntentSnapshot, RefundSnapshot
from dashboard.services import outbox, timeline
from dashboard.services.outbox import OutboxType
from dashboard.services.payments import holds, ledger, records, review
from dashboard.services.payments.apply import apply_payment_intent, count_refund
from dashboard.services.payments.results import ActionRefused, ActionResult
from dashboard.services.payments.review import REFUND_REASONS, VOID_REASONS

# Sent when a saved request has no reason of its own.
DEFAULT_REASON = RefundReason.REQUESTED_BY_CUSTOMER.value


def capture_hold(order_id: int, amount: int, actor: User) -> ActionResult:
    """The final capture: whatever of the hold is not captured is released."""
    order = _prepare(order_id, StaffAction.CAPTURE)
    review.check_capture_amount(order, amount)
    released = max(order.amount_capturable - amount, 0)
    summary = f"capture {order.money(amount)}" + (
        f" (releasing the other {order.money(released)})" if released else ""
    )
    return send(order, _ask(order, actor, StaffAction.CAPTURE, amount, summary))


def capture_part(
    order_id: int, amount: int, actor: User, *, held: int | None = None
) -> ActionResult:
    """Multicapture: capture `amount` and keep the rest of the hold for later captures.

    `held` is what staff saw held when they confirmed: the order stays partly captured, so
    a second click that arrives after the first capture finished would otherwise pass every
    check. Compared under the order's lock, it makes the second one a refusal."""
    order = _prepare(order_id, StaffAction.PARTIAL_CAPTURE)
    if held is not None and order.amount_capturable != held:
        raise ActionRefused(
            "The hold changed since you confirmed (another capture was made). Nothing was "
            "sent: look at the order again."
        )
    review.check_partial_capture(order, amount)
    rest = order.money(order.amount_capturable - amount)
    summary = f"capture {order.money(amount)}, keeping the other {rest} held"
    return send(order, _ask(order, actor, StaffAction.PARTIAL_CAPTURE, amount, summary))


def release_rest(order_id: int, actor: User) -> ActionResult:
    """Multicapture: end it, releasing what is still held; the captures stay captured."""
    order = _prepare(order_id, StaffAction.RELEASE)
    summary = f"release the {order.money(order.amount_capturable)} still held"
    return send(order, _ask(order, actor, StaffAction.RELEASE, None, summary))


def increment_hold(order_id: int, amount: int, actor: User) -> ActionResult:
    """Ask the bank to raise the hold to `amount` (the new total)."""
    order = _prepare(order_id, StaffAction.INCREMENT)
    review.check_increment(order, amount)
    summary = f"raise the hold from {order.money(order.amount_authorized)} to {order.money(amount)}"
    return send(order, _ask(order, actor, StaffAction.INCREMENT, amount, summary))


def void_hold(order_id: int, reason: str, actor: User | None) -> ActionResult:
    """Release the hold; `actor` None is the system (the authorization sweep)."""
    review.check_reason(StaffAction.VOID, reason)
    order = _prepare(order_id, StaffAction.VOID)
    summary = f"void the hold of {order.money(order.amount_capturable)} ({VOID_REASONS[reason]})"
    return send(order, _ask(order, actor, StaffAction.VOID, None, summary, reason=reason))


def refund_payment(order_id: int, amount: int, reason: str, actor: User) -> ActionResult:
    review.check_reason(StaffAction.REFUND, reason)
    order = _prepare(order_id, StaffAction.REFUND)
    review.check_refund_amount(order, amount)
    summary = f"refund {order.money(amount)} ({REFUND_REASONS[reason]})"
    return send(order, _ask(order, actor, StaffAction.REFUND, amount, summary, reason=reason))


def _prepare(order_id: int, action: StaffAction) -> Order:
    order = ledger.lock_order(order_id)
    review.check_action_allowed(order, action)
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
    """Save the request and say on the timeline who asked for what (sent by `send`)."""
    reason = data.get("reason")
    request = ledger.begin(order, action.value, amount, actor, str(reason) if reason else None)
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
    return request


# -- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoneyCall:
    """How a saved staff request is sent (from its saved parameters alone, so a resend is
    the very same request) and what Stripe's answer does to the order."""

    call: Callable[[str, StripeRequest], Any]  # (payment intent id, request) -> answer
    # Applies the answer to the order (the request is the one answered); returns what staff
    # are told.
    apply: Callable[[Order, Any, StripeRequest], str]


def _capture(payment_intent_id: str, request: StripeRequest) -> PaymentIntentSnapshot:
    return gateway().capture_payment_intent(
        payment_intent_id, amount=request.amount or 0, idempotency_key=request.idempotency_key
    )


def _captured(order: Order, answer: PaymentIntentSnapshot, request: StripeRequest) -> str:
    apply_payment_intent(order, answer, source="capture response")
    return f"Captured {order.money(order.amount_captured)}."


def _void(payment_intent_id: str, request: StripeRequest) -> PaymentIntentSnapshot:
    return gateway().cancel_payment_intent(
        payment_intent_id,
        reason=request.reason or DEFAULT_REASON,
        idempotency_key=request.idempotency_key,
    )


def _voided(order: Order, answer: PaymentIntentSnapshot, request: StripeRequest) -> str:
    apply_payment_intent(order, answer, source="void response")
    return "The hold was released; nothing was charged."


def _refund(payment_intent_id: str, request: StripeRequest) -> RefundSnapshot:
    return gateway().create_refund(
        payment_intent_id,
        amount=request.amount or 0,
        reason=request.reason or DEFAULT_REASON,
        order_id=request.order_id,
        idempotency_key=request.idempotency_key,
    )


def _refunded(order: Order, answer: RefundSnapshot, request: StripeRequest) -> str:
    if answer.details is not None:
        records.keep_refund(order, answer.details, request)
    count_refund(order, answer.amount, source="refund response")
    return f"Refunded {order.money(answer.amount)}."


CALLS: dict[StaffAction, MoneyCall] = {
    StaffAction.CAPTURE: MoneyCall(_capture, _captured),
    StaffAction.VOID: MoneyCall(_void, _voided),
    StaffAction.REFUND: MoneyCall(_refund, _refunded),
    StaffAction.PARTIAL_CAPTURE: MoneyCall(
        holds.call_partial_capture, holds.applied_partial_capture
    ),
    StaffAction.RELEASE: MoneyCall(holds.call_release, holds.applied_release),
    StaffAction.INCREMENT: MoneyCall(holds.call_increment, holds.applied_increment),
}
_CAPTURES = (StaffAction.CAPTURE, StaffAction.PARTIAL_CAPTURE)


def send(order: Order, request: StripeRequest) -> ActionResult:
    """Send (or resend) a saved capture, void or refund exactly as it was asked."""
    action = StaffAction(request.action)
    money_call = CALLS[action]
    payment_intent_id = order.stripe_payment_intent_id or ""
    result = ledger.send(
        order, request, action.value, lambda: money_call.call(payment_intent_id, request)
    )
    if isinstance(result, errors.PaymentError):
        # Only Stripe's "no" is a failed capture; a 429 or a missing key leaves the hold intact.
        if action in _CAPTURES and isinstance(result, errors.CardDeclined | errors.InvalidRequest):
            capture_failed(order, request, result.message)
        if action is StaffAction.INCREMENT and isinstance(result, errors.CardDeclined):
            return ActionResult(False, holds.increment_declined(order, request, result.message))
        return ActionResult(False, result.message, awaiting_confirmation=result.outcome_unknown)
    return ActionResult(True, money_call.apply(order, result, request))


def capture_failed(order: Order, request: StripeRequest, reason: str) -> None:
    """Tell other systems (the outbox) that this capture did not take the money."""
    outbox.emit(
        order,
        OutboxType.PAYMENT_FAILED,
        f"{order.id}:{request.idempotency_key}",
        payment_intent=order.stripe_payment_intent_id or "",
        stage="capture",
        reason=reason,
    )
