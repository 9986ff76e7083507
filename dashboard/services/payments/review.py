"""Before money moves: the checks a capture, void or refund must pass (nothing is sent
otherwise), and the sentence that says exactly what it will do, in the order's currency,
for staff to confirm.

The same checks run again when the confirmed action is sent (`staff`), under the order's
lock: a review is advice, never a permission.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain.money import MAX_AMOUNT_MINOR
from dashboard.domain.state_machine import IllegalTransition, StaffAction, check_action
from dashboard.domain.stripe_mapping import CancellationReason, RefundReason
from dashboard.extensions import db
from dashboard.models import Order
from dashboard.payments.charges import ChargeFacts
from dashboard.services.payments import holds, ledger, records, renewal
from dashboard.services.payments.results import ActionInProgress, ActionRefused, OrderNotFound

VOID_REASONS: dict[str, str] = {
    CancellationReason.REQUESTED_BY_CUSTOMER: "Requested by the customer",
    CancellationReason.DUPLICATE: "Duplicate order",
    CancellationReason.FRAUDULENT: "Suspected fraud",
    CancellationReason.ABANDONED: "Abandoned",
}
REFUND_REASONS: dict[str, str] = {
    RefundReason.REQUESTED_BY_CUSTOMER: "Requested by the customer",
    RefundReason.DUPLICATE: "Duplicate charge",
    RefundReason.FRAUDULENT: "Fraudulent",
}


class AmountRefused(ActionRefused):
    """The amount typed is not one this action can take: said beside the amount field."""


@dataclass(frozen=True)
class Review:
    """What a money action will do, as staff are asked to confirm it."""

    action: StaffAction
    amount: int | None
    reason: str | None
    sentence: str  # what will happen, in plain words and the order's currency
    button: str  # the confirming button's words: "Capture $18.00"
    # The amount the sentence was computed from (the hold, or what can be refunded): a
    # confirmation is refused when it has changed since, and asked again.
    basis: int


def check_action_allowed(order: Order, action: StaffAction) -> None:
    """The state machine allows the action, the order has a payment, nothing is in flight."""
    try:
        check_action(order.order_state, action)
    except IllegalTransition as error:
        raise ActionRefused(str(error)) from error
    if order.stripe_payment_intent_id is None:
        raise ActionRefused("This order has no Stripe payment to act on.")
    if ledger.in_flight(order) is not None:
        raise ActionInProgress(
            "Another action on this order is still waiting for Stripe. Nothing new was sent."
        )
    _check_granted(order, action)


def _check_granted(order: Order, action: StaffAction) -> None:
    """The card network granted what the action needs, and Stripe's limits allow it."""
    granted = holds.grants(order)
    if action is StaffAction.PARTIAL_CAPTURE:
        if not granted.multicapture_granted:
            raise ActionRefused(
                "This card does not allow several captures: the network did not grant it."
            )
        if holds.captures_made(order) + 1 >= holds.MAX_CAPTURES:
            raise ActionRefused(
                f"Stripe allows {holds.MAX_CAPTURES} captures of one hold: the next one must "
                "be the final capture."
            )
    if action is StaffAction.CAPTURE and holds.captures_made(order) >= holds.MAX_CAPTURES:
        raise ActionRefused(f"Stripe allows {holds.MAX_CAPTURES} captures of one hold.")
    if action is StaffAction.INCREMENT:
        if not granted.increment_granted:
            raise ActionRefused(
                "This card does not allow a larger hold: the network did not grant it."
            )
        if order.amount_captured > 0:
            raise ActionRefused("A hold cannot be raised once part of it has been captured.")
        if holds.increment_attempts(order) >= holds.MAX_INCREMENT_ATTEMPTS:
            raise ActionRefused(
                f"All {holds.MAX_INCREMENT_ATTEMPTS} attempts at a larger hold are used up "
                "(declines count). The hold stays as it is."
            )


def check_capture_amount(order: Order, amount: int) -> None:
    ceiling = holds.capture_ceiling(order)
    if not 0 < amount <= ceiling:
        beyond = (
            " (more than the hold: the card allows overcapture)"
            if (ceiling > order.amount_capturable)
            else ""
        )
        raise AmountRefused(f"Capture between {order.money(1)} and {order.money(ceiling)}{beyond}.")


def check_partial_capture(order: Order, amount: int) -> None:
    """Part of the hold, leaving something held: capturing all of it is the final capture."""
    if not 0 < amount < order.amount_capturable:
        raise AmountRefused(
            f"Capture part of the hold: between {order.money(1)} and "
            f"{order.money(max(order.amount_capturable - 1, 1))}. To capture all of it, "
            "use the final capture."
        )


def check_increment(order: Order, amount: int) -> None:
    """The new total must be larger than the hold, and one Stripe can charge."""
    if not order.amount_authorized < amount <= MAX_AMOUNT_MINOR:
        raise AmountRefused(
            f"Enter the new total of the hold: more than {order.money(order.amount_authorized)}."
        )


def check_refund_amount(order: Order, amount: int) -> None:
    if not 0 < amount <= order.amount_refundable:
        raise AmountRefused(
            f"Refund between {order.money(1)} and {order.money(order.amount_refundable)}."
        )


def check_reason(action: StaffAction, reason: str | None) -> str:
    reasons = VOID_REASONS if action is StaffAction.VOID else REFUND_REASONS
    if reason not in reasons:
        raise ActionRefused(f"Choose a reason for the {action.value}.")
    return reason


def review(
    order_id: int, action: StaffAction, *, amount: int | None = None, reason: str | None = None
) -> Review:
    """What `action` would do to the order now; ActionRefused if it cannot be done."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise OrderNotFound(order_id)
    if action in (StaffAction.REAUTHORIZE, StaffAction.NEW_PAY_LINK):
        renewal.check(order, action)
        sentence, button = renewal.sentence(order, action)
        amount = renewal.remaining(order)
        return Review(action, amount, None, sentence, button, amount)
    check_action_allowed(order, action)
    if action is StaffAction.CAPTURE:
        return _capture(order, amount or 0)
    if action is StaffAction.PARTIAL_CAPTURE:
        return _partial_capture(order, amount or 0)
    if action is StaffAction.RELEASE:
        return _release(order)
    if action is StaffAction.INCREMENT:
        return _increment(order, amount or 0)
    if action is StaffAction.VOID:
        return _void(order, check_reason(action, reason))
    return _refund(order, amount or 0, check_reason(action, reason))


def _capture(order: Order, amount: int) -> Review:
    check_capture_amount(order, amount)
    hold, rest = order.amount_capturable, order.amount_capturable - amount
    held = "still held" if order.amount_captured else "hold"
    if rest > 0:
        sentence = (
            f"Capture {order.money(amount)} of the {order.money(hold)} {held}. The other "
            f"{order.money(rest)} is released to the buyer and cannot be captured later."
        )
    elif rest < 0:
        sentence = (
            f"Capture {order.money(amount)}: {order.money(-rest)} more than the "
            f"{order.money(hold)} hold, as the card allows (overcapture)."
        )
    else:
        sentence = f"Capture the full {order.money(hold)} {held}."
    if order.amount_captured:
        sentence += (
            f" This is the final capture: {order.money(order.amount_captured)} was captured before."
        )
    return Review(
        StaffAction.CAPTURE, amount, None, sentence, f"Capture {order.money(amount)}", hold
    )


def _partial_capture(order: Order, amount: int) -> Review:
    check_partial_capture(order, amount)
    hold, rest = order.amount_capturable, order.amount_capturable - amount
    left = holds.MAX_CAPTURES - holds.captures_made(order) - 1
    sentence = (
        f"Capture {order.money(amount)} of the {order.money(hold)} held now. The other "
        f"{order.money(rest)} stays held for later captures, until the hold's deadline. "
        f"{left} more captures are possible."
    )
    return Review(
        StaffAction.PARTIAL_CAPTURE,
        amount,
        None,
        sentence,
        f"Capture {order.money(amount)}, keep the rest held",
        hold,
    )


def _release(order: Order) -> Review:
    sentence = (
        f"Release the {order.money(order.amount_capturable)} still held to the buyer. "
        f"The {order.money(order.amount_captured)} already captured stays captured; "
        "no more captures can be made. This cannot be undone."
    )
    return Review(
        StaffAction.RELEASE,
        None,
        None,
        sentence,
        "Release the rest",
        order.amount_capturable,
    )


def _increment(order: Order, amount: int) -> Review:
    check_increment(order, amount)
    attempt = holds.increment_attempts(order) + 1
    sentence = (
        f"Ask the buyer's bank to raise the hold from {order.money(order.amount_authorized)} "
        f"to {order.money(amount)}. This is attempt {attempt} of "
        f"{holds.MAX_INCREMENT_ATTEMPTS}; if the bank declines, the hold of "
        f"{order.money(order.amount_capturable)} stays as it is."
    )
    return Review(
        StaffAction.INCREMENT,
        amount,
        None,
        sentence,
        f"Raise the hold to {order.money(amount)}",
        order.amount_authorized,
    )


def _void(order: Order, reason: str) -> Review:
    sentence = (
        f"Void the {order.money(order.amount_capturable)} hold: nothing will be charged. "
        f"This cannot be undone. Reason: {VOID_REASONS[reason]}."
    )
    return Review(
        StaffAction.VOID, None, reason, sentence, "Void the hold", order.amount_capturable
    )


def _refund(order: Order, amount: int, reason: str) -> Review:
    check_refund_amount(order, amount)
    card = paying_card(order)
    to = f"to {card}" if card else "to the buyer's card"
    sentence = f"Refund {order.money(amount)} {to}. Reason: {REFUND_REASONS[reason]}."
    if amount < order.amount_refundable:
        sentence += f" {order.money(order.amount_refundable - amount)} will remain refundable."
    return Review(
        StaffAction.REFUND,
        amount,
        reason,
        sentence,
        f"Refund {order.money(amount)}",
        order.amount_refundable,
    )


def paying_card(order: Order) -> str | None:
    """The card that paid ("Visa •••• 4242"), as Stripe described the order's charge."""
    if order.stripe_charge_id is None:
        return None
    for attempt in records.attempts(order):
        if attempt.attempt_key == order.stripe_charge_id:
            card = ChargeFacts.from_stored(attempt.details).card
            return card.label if card else None
    return None
