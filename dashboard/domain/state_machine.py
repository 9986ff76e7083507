"""The order state machine: an explicit transition table, forward-only.

`next_state(state, event)` answers one of three ways:
- a `Transition` (the table has the pair, possibly to the same state),
- `Ignored` with a reason: the event belongs to a state the order has already passed,
  as a late or duplicated webhook does; nothing changes and that is fine,
- `IllegalTransition` raised: nothing could make this happen (capture a voided hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dashboard.domain.orders import OrderState as S


class PaymentEvent(StrEnum):
    """Something that happened to an order's payment (from staff, Stripe's API or a webhook)."""

    STARTED = "started"  # a Checkout Session or PaymentIntent was created for the order
    ACTION_REQUIRED = "action_required"  # 3-D Secure or similar, the buyer must act
    AUTHORIZED = "authorized"  # a hold is in place
    FAILED = "failed"  # the attempt failed; the buyer may try again
    # Part of a multicapture hold captured, the rest kept held (`final_capture=false`).
    PART_CAPTURED = "part_captured"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"  # the hold was released on purpose
    EXPIRED = "expired"  # the hold or the checkout lapsed
    # A new hold took the place of one that lapsed or was about to (re-authorizing).
    REAUTHORIZED = "reauthorized"


E = PaymentEvent

# How far along each state is. An event whose target ranks at or below the current state's
# rank is stale (ignored); one ranking above it, but absent from the table, is illegal.
RANK: dict[S, int] = {
    S.OPEN: 0,
    S.FAILED: 1,
    S.PROCESSING: 2,
    S.AUTHORIZED: 3,
    S.PARTLY_CAPTURED: 4,
    S.CAPTURED: 5,
    S.VOIDED: 5,
    S.EXPIRED: 5,
    S.PARTIALLY_REFUNDED: 6,
    S.REFUNDED: 7,
}

TARGET: dict[PaymentEvent, S] = {
    E.STARTED: S.PROCESSING,
    E.ACTION_REQUIRED: S.PROCESSING,
    E.AUTHORIZED: S.AUTHORIZED,
    E.FAILED: S.FAILED,
    E.PART_CAPTURED: S.PARTLY_CAPTURED,
    E.CAPTURED: S.CAPTURED,
    E.PARTIALLY_REFUNDED: S.PARTIALLY_REFUNDED,
    E.REFUNDED: S.REFUNDED,
    E.VOIDED: S.VOIDED,
    E.EXPIRED: S.EXPIRED,
    E.REAUTHORIZED: S.AUTHORIZED,
}

_BEFORE_A_HOLD = (S.OPEN, S.FAILED, S.PROCESSING)
TRANSITIONS: frozenset[tuple[S, PaymentEvent]] = frozenset(
    {(state, event) for state in _BEFORE_A_HOLD for event in (E.STARTED, E.ACTION_REQUIRED)}
    | {(state, E.AUTHORIZED) for state in _BEFORE_A_HOLD}
    # A capture can be the first news of a payment (made or confirmed elsewhere).
    | {(state, E.CAPTURED) for state in (*_BEFORE_A_HOLD, S.AUTHORIZED)}
    # Multicapture: each capture that keeps the rest held stays "partly captured"; the final
    # capture, or releasing the rest, makes the order captured.
    | {(state, E.PART_CAPTURED) for state in (*_BEFORE_A_HOLD, S.AUTHORIZED, S.PARTLY_CAPTURED)}
    | {(S.PARTLY_CAPTURED, E.CAPTURED)}
    | {(S.OPEN, E.FAILED), (S.PROCESSING, E.FAILED), (S.FAILED, E.FAILED)}
    | {(state, E.EXPIRED) for state in (*_BEFORE_A_HOLD, S.AUTHORIZED)}
    | {(state, E.VOIDED) for state in (*_BEFORE_A_HOLD, S.AUTHORIZED)}
    | {(S.CAPTURED, E.PARTIALLY_REFUNDED), (S.PARTIALLY_REFUNDED, E.PARTIALLY_REFUNDED)}
    | {(S.CAPTURED, E.REFUNDED), (S.PARTIALLY_REFUNDED, E.REFUNDED)}
    # The one way out of a lapsed hold: a new authorization, asked for by staff (a card
    # the buyer let us keep) or given by the buyer again; never by a late event.
    | {(S.AUTHORIZED, E.REAUTHORIZED), (S.EXPIRED, E.REAUTHORIZED)}
)

TERMINAL = frozenset({S.VOIDED, S.EXPIRED, S.REFUNDED})
# The states of an order whose hold has been captured: only refunds move it on.
AFTER_CAPTURE = frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED})
_REFUNDS = (E.PARTIALLY_REFUNDED, E.REFUNDED)


@dataclass(frozen=True)
class Transition:
    before: S
    after: S
    event: PaymentEvent

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Ignored:
    state: S
    event: PaymentEvent
    reason: str


class IllegalTransition(Exception):
    """An action or event that cannot happen to an order in its current state."""

    def __init__(self, state: S, event: PaymentEvent) -> None:
        self.state = state
        self.event = event
        super().__init__(f"An order that is {state.label.lower()} cannot be {event.value}.")


def next_state(state: S, event: PaymentEvent) -> Transition | Ignored:
    if (state, event) in TRANSITIONS:
        return Transition(before=state, after=TARGET[event], event=event)
    target = TARGET[event]
    if RANK[target] <= RANK[state]:
        return Ignored(state=state, event=event, reason=_stale(state, event, target))
    raise IllegalTransition(state, event)


def _stale(state: S, event: PaymentEvent, target: S) -> str:
    """Why an event that the order has passed changes nothing, in words that say so."""
    already = f"the order is already {state.label.lower()}"
    if target is state:
        return f"{already}: nothing to change"
    if RANK[target] == RANK[state]:
        return f"{already}; it cannot also be {event.value}"
    return f"{already}; {event.value} would move it back"


def path_to(state: S, event: PaymentEvent) -> tuple[PaymentEvent, ...]:
    """The events that take an order in `state` to where `event` leads, in order.

    A refund reported for an order that still shows the hold (the payment was captured and
    refunded elsewhere, in Stripe's Dashboard, and the capture's news was missed) goes
    through the capture first; every other event is its own path.
    """
    if event in _REFUNDS and state not in AFTER_CAPTURE:
        return (E.CAPTURED, event)
    return (event,)


def destination(state: S, event: PaymentEvent) -> S:
    """Where `path_to` leads: the state the order ends in (its own if every step is stale).

    Raises IllegalTransition if a step cannot happen."""
    for step in path_to(state, event):
        outcome = next_state(state, step)
        if isinstance(outcome, Transition):
            state = outcome.after
    return state


# Staff actions, and the states in which each is offered.
class StaffAction(StrEnum):
    CAPTURE = "capture"  # the final capture: whatever is not captured is released
    VOID = "void"
    REFUND = "refund"
    PARTIAL_CAPTURE = "partial_capture"  # multicapture: capture part, keep the rest held
    RELEASE = "release"  # multicapture: release what is still held, after a partial capture
    INCREMENT = "increment"  # ask the bank for a larger hold (incremental authorization)
    REAUTHORIZE = "reauthorize"  # a new hold with the card the buyer let us keep
    NEW_PAY_LINK = "new_pay_link"  # a new hold the buyer gives on the pay page

    @property
    def words(self) -> str:
        """The action as a confirmation names it ("Confirm: release the rest")."""
        return _ACTION_WORDS.get(self, self.value)


_ACTION_WORDS = {
    StaffAction.PARTIAL_CAPTURE: "capture part, keep the rest held",
    StaffAction.RELEASE: "release the rest",
    StaffAction.INCREMENT: "a larger hold",
    StaffAction.REAUTHORIZE: "a new hold on the saved card",
    StaffAction.NEW_PAY_LINK: "a new pay link for the buyer",
}


# Whether the card network granted what an action needs (multicapture for a partial capture,
# incremental authorization for an increment) is checked beside the state, by the services.
ALLOWED_ACTIONS: dict[StaffAction, frozenset[S]] = {
    StaffAction.CAPTURE: frozenset({S.AUTHORIZED, S.PARTLY_CAPTURED}),
    StaffAction.VOID: frozenset({S.AUTHORIZED}),
    StaffAction.REFUND: frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED}),
    StaffAction.PARTIAL_CAPTURE: frozenset({S.AUTHORIZED, S.PARTLY_CAPTURED}),
    StaffAction.RELEASE: frozenset({S.PARTLY_CAPTURED}),
    # Stripe: only in requires_capture, and never after a capture.
    StaffAction.INCREMENT: frozenset({S.AUTHORIZED}),
    # Further conditions (the hold lapsed or near its deadline; a saved card or none) are
    # the review's (services/payments/renewal.py). Not after a partial capture: the new
    # hold would have to leave out what was captured, which is not built yet.
    StaffAction.REAUTHORIZE: frozenset({S.AUTHORIZED, S.EXPIRED}),
    StaffAction.NEW_PAY_LINK: frozenset({S.AUTHORIZED, S.EXPIRED}),
}
# The event each action leads to, named in the refusal of one the state does not allow.
_ACTION_EVENT: dict[StaffAction, PaymentEvent] = {
    StaffAction.CAPTURE: E.CAPTURED,
    StaffAction.VOID: E.VOIDED,
    StaffAction.REFUND: E.REFUNDED,
    StaffAction.PARTIAL_CAPTURE: E.PART_CAPTURED,
    StaffAction.RELEASE: E.CAPTURED,
    StaffAction.INCREMENT: E.AUTHORIZED,
    StaffAction.REAUTHORIZE: E.REAUTHORIZED,
    StaffAction.NEW_PAY_LINK: E.REAUTHORIZED,
}


def check_action(state: S, action: StaffAction) -> None:
    """Raise IllegalTransition unless staff may take this action in this state."""
    if state not in ALLOWED_ACTIONS[action]:
        raise IllegalTransition(state, _ACTION_EVENT[action])


def state_for_refunds(captured: int, refunded: int) -> S:
    """A captured order's state from its refunded amount.

    The one move backwards the table allows, and only through this function: a refund that
    Stripe accepted and that then failed returns the money to the merchant, not the buyer.
    """
    if refunded <= 0:
        return S.CAPTURED
    return S.REFUNDED if refunded >= captured else S.PARTIALLY_REFUNDED
