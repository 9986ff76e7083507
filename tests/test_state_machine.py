"""The order state machine, pure: every (state, event) pair and every staff action.

The table below is written out by hand from the rules (a hold moves forward only; a late
event for a state already passed is ignored; anything else is impossible), not computed
from the module, so a changed row in TRANSITIONS or RANK shows up here as a failing pair.
"""

import itertools

import pytest

from dashboard.domain.orders import OrderState as S
from dashboard.domain.state_machine import (
    ALLOWED_ACTIONS,
    RANK,
    TARGET,
    TERMINAL,
    TRANSITIONS,
    Ignored,
    IllegalTransition,
    PaymentEvent,
    StaffAction,
    Transition,
    check_action,
    next_state,
)

E = PaymentEvent

# What each pair must give: a state (a Transition to it), IGNORED, or ILLEGAL.
IGNORED = "ignored"
ILLEGAL = "illegal"
_ = IGNORED
X = ILLEGAL

EVENTS = [
    E.STARTED,
    E.ACTION_REQUIRED,
    E.AUTHORIZED,
    E.FAILED,
    E.CAPTURED,
    E.PARTIALLY_REFUNDED,
    E.REFUNDED,
    E.VOIDED,
    E.EXPIRED,
    E.PART_CAPTURED,
    E.REAUTHORIZED,
]
P, A, F, C = S.PROCESSING, S.AUTHORIZED, S.FAILED, S.CAPTURED
PR, R, V, EX = S.PARTIALLY_REFUNDED, S.REFUNDED, S.VOIDED, S.EXPIRED
PC = S.PARTLY_CAPTURED
EXPECTED: dict[S, list[object]] = {
    #                 STARTED ACTION AUTH FAILED CAPT PART_R REF VOID EXPIRED PART_CAPT REAUTH
    S.OPEN:               [P, P, A, F, C, X, X, V, EX, PC, X],
    S.FAILED:             [P, P, A, F, C, X, X, V, EX, PC, X],
    S.PROCESSING:         [P, P, A, F, C, X, X, V, EX, PC, X],
    S.AUTHORIZED:         [_, _, _, _, C, X, X, V, EX, PC, A],
    # Multicapture: more partial captures, then the final one (or the rest released).
    S.PARTLY_CAPTURED:    [_, _, _, _, C, X, X, X, X, PC, _],
    S.CAPTURED:           [_, _, _, _, _, PR, R, _, _, _, _],
    S.VOIDED:             [_, _, _, _, _, X, X, _, _, _, _],
    S.EXPIRED:            [_, _, _, _, _, X, X, _, _, _, A],
    S.PARTIALLY_REFUNDED: [_, _, _, _, _, PR, R, _, _, _, _],
    S.REFUNDED:           [_, _, _, _, _, _, _, _, _, _, _],
}  # fmt: skip

ALL_PAIRS = list(itertools.product(S, E))


def _outcome(state, event):
    try:
        result = next_state(state, event)
    except IllegalTransition:
        return ILLEGAL
    if isinstance(result, Ignored):
        return IGNORED
    assert isinstance(result, Transition)
    return result.after


def test_the_expected_table_covers_every_state_and_event():
    assert set(EXPECTED) == set(S)
    assert set(EVENTS) == set(E)
    assert all(len(row) == len(EVENTS) for row in EXPECTED.values())


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda v: v.value)
def test_every_pair_gives_the_expected_outcome(state, event):
    assert _outcome(state, event) == EXPECTED[state][EVENTS.index(event)]


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda v: v.value)
def test_a_transition_exactly_for_the_pairs_in_the_table(state, event):
    """Transition iff in TRANSITIONS; else Ignored iff stale by RANK; else illegal."""
    if (state, event) in TRANSITIONS:
        result = next_state(state, event)
        assert result == Transition(before=state, after=TARGET[event], event=event)
    elif RANK[TARGET[event]] <= RANK[state]:
        result = next_state(state, event)
        assert isinstance(result, Ignored)
        assert (result.state, result.event) == (state, event)
    else:
        with pytest.raises(IllegalTransition) as raised:
            next_state(state, event)
        assert (raised.value.state, raised.value.event) == (state, event)


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (S.AUTHORIZED, E.CAPTURED, S.CAPTURED),
        (S.CAPTURED, E.VOIDED, IGNORED),  # a late void webhook cannot undo a capture
        (S.VOIDED, E.CAPTURED, IGNORED),  # ...nor a late capture resurrect a void
        (S.OPEN, E.REFUNDED, ILLEGAL),  # nothing was ever taken
        (S.PARTIALLY_REFUNDED, E.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED),
    ],
    ids=lambda v: v.value if hasattr(v, "value") else str(v),
)
def test_important_pairs(state, event, expected):
    assert _outcome(state, event) == expected


def test_authorized_then_captured_is_a_change():
    result = next_state(S.AUTHORIZED, E.CAPTURED)
    assert result == Transition(S.AUTHORIZED, S.CAPTURED, E.CAPTURED)
    assert result.changed


def test_a_second_partial_refund_is_a_transition_to_the_same_state():
    """Not Ignored: the caller still records the new refunded amount."""
    result = next_state(S.PARTIALLY_REFUNDED, E.PARTIALLY_REFUNDED)
    assert isinstance(result, Transition)
    assert (result.before, result.after, result.changed) == (
        S.PARTIALLY_REFUNDED,
        S.PARTIALLY_REFUNDED,
        False,
    )


@pytest.mark.parametrize(("state", "event"), [(S.CAPTURED, E.VOIDED), (S.VOIDED, E.CAPTURED)])
def test_ignored_names_the_state_and_the_event(state, event):
    """Captured and voided are both final for the hold: one is not "back" from the other."""
    result = next_state(state, event)
    assert isinstance(result, Ignored)
    assert state.label.lower() in result.reason
    assert event.value in result.reason
    assert result.reason == (
        f"the order is already {state.label.lower()}; it cannot also be {event.value}"
    )


def test_an_event_for_the_state_the_order_is_in_says_nothing_moves():
    """The event log read "the order is already captured; captured would move it back"."""
    result = next_state(S.CAPTURED, E.CAPTURED)
    assert isinstance(result, Ignored)
    assert result.reason == "the order is already captured: nothing to change"


def test_an_event_from_an_earlier_state_says_it_would_move_the_order_back():
    result = next_state(S.CAPTURED, E.AUTHORIZED)
    assert isinstance(result, Ignored)
    assert result.reason == "the order is already captured; authorized would move it back"


def test_every_ignored_reason_names_its_state_and_event():
    for state, event in ALL_PAIRS:
        result = _safe(state, event)
        if isinstance(result, Ignored):
            assert state.label.lower() in result.reason, (state, event)
            assert event.value in result.reason, (state, event)


def test_illegal_transition_says_what_cannot_happen():
    with pytest.raises(IllegalTransition) as raised:
        next_state(S.OPEN, E.REFUNDED)
    assert str(raised.value) == "An order that is open cannot be refunded."
    with pytest.raises(IllegalTransition, match="partially refunded cannot be refunded"):
        raise IllegalTransition(S.PARTIALLY_REFUNDED, E.REFUNDED)


def _safe(state, event):
    try:
        return next_state(state, event)
    except IllegalTransition as error:
        return error


# -- properties over all pairs -----------------------------------------------------------

# The one edge that lowers RANK on purpose: an attempt in progress fails, and the buyer may
# try again (FAILED -> STARTED -> PROCESSING -> FAILED ...). No rank can order a retry loop.
RETRY_EDGE = {(S.PROCESSING, E.FAILED)}
# And the re-authorization: a lapsed hold replaced by a new one (staff with a saved card, or
# the buyer on a new pay link). No Stripe event maps to it, so no webhook can take it.
REAUTHORIZATION_EDGE = {(S.EXPIRED, E.REAUTHORIZED)}


def test_transitions_only_move_forward_except_the_retry_and_reauthorization_edges():
    lowering = {
        (state, event)
        for state, event in ALL_PAIRS
        if isinstance(result := _safe(state, event), Transition)
        and RANK[result.after] < RANK[result.before]
    }
    assert lowering == RETRY_EDGE | REAUTHORIZATION_EDGE


def test_a_transition_always_lands_on_the_events_target():
    for state, event in ALL_PAIRS:
        result = _safe(state, event)
        if isinstance(result, Transition):
            assert (result.before, result.after, result.event) == (state, TARGET[event], event)


def test_ignored_only_for_events_the_order_has_passed():
    for state, event in ALL_PAIRS:
        if isinstance(_safe(state, event), Ignored):
            assert RANK[TARGET[event]] <= RANK[state], (state, event)


def test_illegal_only_for_targets_ahead_and_not_in_the_table():
    for state, event in ALL_PAIRS:
        if isinstance(_safe(state, event), IllegalTransition):
            assert RANK[TARGET[event]] > RANK[state], (state, event)
            assert (state, event) not in TRANSITIONS


@pytest.mark.parametrize("state", sorted(TERMINAL), ids=str)
def test_terminal_states_accept_no_change(state):
    """Nothing but a new authorization moves them (it is never an event from Stripe)."""
    for event in set(E) - {E.REAUTHORIZED}:
        result = _safe(state, event)
        assert not (isinstance(result, Transition) and result.changed), (state, event)
        assert (state, event) not in TRANSITIONS


def test_terminal_states_are_voided_expired_refunded():
    assert {S.VOIDED, S.EXPIRED, S.REFUNDED} == TERMINAL


def test_only_terminal_states_have_no_way_out():
    """Every other state has at least one transition that changes it."""
    for state in S:
        ways_out = {
            event
            for event in E
            if isinstance(result := _safe(state, event), Transition) and result.changed
        }
        expected = state not in TERMINAL or state is S.EXPIRED  # re-authorized
        assert bool(ways_out) == expected, state


def test_rank_and_target_cover_every_state_and_event():
    assert set(RANK) == set(S)
    assert set(TARGET) == set(E)


def test_the_table_only_names_real_pairs():
    assert all(isinstance(s, S) and isinstance(e, E) for s, e in TRANSITIONS)


# -- staff actions -----------------------------------------------------------------------

ALLOWED = {
    StaffAction.CAPTURE: {S.AUTHORIZED, S.PARTLY_CAPTURED},
    StaffAction.VOID: {S.AUTHORIZED},
    StaffAction.REFUND: {S.CAPTURED, S.PARTIALLY_REFUNDED},
    StaffAction.PARTIAL_CAPTURE: {S.AUTHORIZED, S.PARTLY_CAPTURED},
    StaffAction.RELEASE: {S.PARTLY_CAPTURED},
    StaffAction.INCREMENT: {S.AUTHORIZED},
    StaffAction.REAUTHORIZE: {S.AUTHORIZED, S.EXPIRED},
    StaffAction.NEW_PAY_LINK: {S.AUTHORIZED, S.EXPIRED},
}
REFUSED_AS = {
    StaffAction.CAPTURE: (E.CAPTURED, "captured"),
    StaffAction.VOID: (E.VOIDED, "voided"),
    StaffAction.REFUND: (E.REFUNDED, "refunded"),
    StaffAction.PARTIAL_CAPTURE: (E.PART_CAPTURED, "part_captured"),
    StaffAction.RELEASE: (E.CAPTURED, "captured"),
    StaffAction.INCREMENT: (E.AUTHORIZED, "authorized"),
    StaffAction.REAUTHORIZE: (E.REAUTHORIZED, "reauthorized"),
    StaffAction.NEW_PAY_LINK: (E.REAUTHORIZED, "reauthorized"),
}


def test_allowed_actions_are_as_documented():
    assert {action: set(states) for action, states in ALLOWED_ACTIONS.items()} == ALLOWED


@pytest.mark.parametrize(
    ("action", "state"), list(itertools.product(StaffAction, S)), ids=lambda v: v.value
)
def test_check_action_for_every_action_and_state(action, state):
    if state in ALLOWED[action]:
        assert check_action(state, action) is None
        return
    event, verb = REFUSED_AS[action]
    with pytest.raises(IllegalTransition) as raised:
        check_action(state, action)
    assert (raised.value.state, raised.value.event) == (state, event)
    assert str(raised.value) == f"An order that is {state.label.lower()} cannot be {verb}."


@pytest.mark.parametrize(
    ("action", "state"),
    # An increment changes the hold's amount, not the order's state.
    [(a, s) for a, states in ALLOWED.items() for s in states if a is not StaffAction.INCREMENT],
    ids=lambda v: v.value,
)
def test_an_allowed_action_is_a_legal_change_in_the_machine(action, state):
    """What staff may do, the machine accepts as a real move (never ignored or illegal)."""
    event, _verb = REFUSED_AS[action]
    # A refund is a partial or a full one; the others are one event each.
    events = [E.PARTIALLY_REFUNDED, E.REFUNDED] if action is StaffAction.REFUND else [event]
    for each in events:
        result = next_state(state, each)
        assert isinstance(result, Transition), (action, state, each)


# -- several captures (multicapture) ------------------------------------------------------


def test_a_first_partial_capture_leaves_the_rest_held():
    result = next_state(S.AUTHORIZED, E.PART_CAPTURED)
    assert isinstance(result, Transition)
    assert (result.after, result.changed) == (S.PARTLY_CAPTURED, True)


def test_a_second_partial_capture_stays_partly_captured():
    result = next_state(S.PARTLY_CAPTURED, E.PART_CAPTURED)
    assert isinstance(result, Transition)
    assert (result.after, result.changed) == (S.PARTLY_CAPTURED, False)


def test_the_final_capture_or_release_ends_it():
    result = next_state(S.PARTLY_CAPTURED, E.CAPTURED)
    assert isinstance(result, Transition) and result.after is S.CAPTURED


def test_a_late_partial_capture_after_the_final_one_is_ignored():
    assert isinstance(next_state(S.CAPTURED, E.PART_CAPTURED), Ignored)


def test_a_partly_captured_hold_cannot_be_voided_or_refunded_yet():
    for event in (E.VOIDED, E.REFUNDED, E.PARTIALLY_REFUNDED):
        with pytest.raises(IllegalTransition):
            next_state(S.PARTLY_CAPTURED, event)


def test_the_new_state_reads_in_plain_words():
    assert S.PARTLY_CAPTURED.label == "Partly captured, rest still held"
