"""What became of an event (applied, ignored, with the reason), and the rules every
handler shares about that."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain.state_machine import Ignored, Transition
from dashboard.models import EventStatus, Order


@dataclass(frozen=True)
class Outcome:
    status: EventStatus
    reason: str
    order_id: int | None = None  # the order it was reconciled into, if one matched
    out_of_order: bool = False


def applied(reason: str) -> Outcome:
    return Outcome(EventStatus.APPLIED, reason)


def ignored(reason: str) -> Outcome:
    return Outcome(EventStatus.IGNORED, reason)


def result(outcome: Transition | Ignored | None, nothing: str) -> Outcome:
    """What a move through the state machine means for the event."""
    if isinstance(outcome, Ignored):
        return ignored(outcome.reason)
    if outcome is None:
        return ignored(nothing)
    if outcome.changed:
        return applied(f"{outcome.before.label} → {outcome.after.label}")
    return applied(f"still {outcome.after.label.lower()}, amounts updated")


def other_attempt(order: Order, payment_intent_id: str | None) -> Outcome | None:
    """Ignored, if the event concerns another PaymentIntent than the order's (an earlier
    attempt of the buyer's)."""
    if (
        payment_intent_id
        and order.stripe_payment_intent_id
        and payment_intent_id != order.stripe_payment_intent_id
    ):
        return ignored(
            f"It concerns payment {payment_intent_id}, an earlier attempt; the order's payment "
            f"is {order.stripe_payment_intent_id}."
        )
    return None
