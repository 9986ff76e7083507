"""What became of an event (applied, ignored, with the reason), and the rules every
handler shares about that."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain.state_machine import Ignored, Transition
from dashboard.models import EventStatus, Order
from dashboard.services.payments.apply import Refused

# The flag an event is kept with when what it says was refused outright (shown on the log).
IMPLAUSIBLE_AMOUNTS = "implausible_amounts"


@dataclass(frozen=True)
class Outcome:
    status: EventStatus
    reason: str
    order_id: int | None = None  # the order it was reconciled into, if one matched
    out_of_order: bool = False
    flag: str | None = None  # something support should look at, though nothing failed


def applied(reason: str) -> Outcome:
    return Outcome(EventStatus.APPLIED, reason)


def ignored(reason: str) -> Outcome:
    return Outcome(EventStatus.IGNORED, reason)


def flagged(reason: str, flag: str = IMPLAUSIBLE_AMOUNTS) -> Outcome:
    """Ignored, and flagged on the event log: what the event says was refused."""
    return Outcome(EventStatus.IGNORED, reason, flag=flag)


def result(outcome: Transition | Ignored | Refused | None, nothing: str) -> Outcome:
    """What a move through the state machine means for the event."""
    if isinstance(outcome, Refused):
        return flagged(outcome.reason)
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
