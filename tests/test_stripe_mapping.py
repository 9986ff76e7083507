"""The versioned table from Stripe's statuses to our payment events.

The statuses are read from the installed stripe SDK, so upgrading it with a status the
table does not know fails here, before a webhook finds it in production.
"""

import inspect
import re
import typing

import pytest
import stripe

from dashboard.domain.state_machine import PaymentEvent as E
from dashboard.domain.stripe_mapping import (
    CHECKOUT_SESSION_STATUS,
    DISPUTE_OUTCOMES,
    DISPUTE_RANK,
    LAPSED_CANCELLATION_REASONS,
    MAPPING_VERSION,
    PAYMENT_INTENT_STATUS,
    REFUND_STATUS_COUNTS,
    Amounts,
    CancellationReason,
    CardFeatureStatus,
    ChargeStatus,
    CheckoutPaymentStatus,
    CheckoutSessionStatus,
    DisputeStatus,
    PaymentIntentStatus,
    RefundReason,
    RefundStatus,
    UnmappedStatus,
    dispute_status_follows,
    event_for_payment_intent,
    refund_counts,
)
from dashboard.services.payments.staff import VOID_REASONS
from tests.support.database import state_changes
from tests.support.web import pay_with_test_card

# Refund.status is a plain `Optional[str]` in the SDK; its values are only in the docs.
REFUND_STATUSES = {"pending", "requires_action", "succeeded", "failed", "canceled"}


def sdk_literals(cls, attribute):
    """The Literal values of one annotated attribute of an SDK class.

    `typing.get_type_hints(cls)` cannot be used: it resolves every annotation of the class,
    and the SDK imports many of the types they name only under TYPE_CHECKING (NameError).
    The class's own annotations are already evaluated objects, so read just the one.
    """
    annotation = inspect.get_annotations(cls)[attribute]
    values = set()

    def walk(hint):
        if typing.get_origin(hint) is typing.Literal:
            values.update(typing.get_args(hint))
        for arg in typing.get_args(hint):
            if not isinstance(arg, str):
                walk(arg)

    walk(annotation)
    assert values, f"{cls.__name__}.{attribute} has no Literal values in this SDK"
    return values


def zero():
    return Amounts(authorized=0, capturable=0, captured=0, refunded=0)


# -- the table knows every status the SDK knows ------------------------------------------


def test_sdk_statuses_are_read_as_expected():
    """The reader works on this SDK (guards the coverage tests from passing vacuously)."""
    assert sdk_literals(stripe.PaymentIntent, "status") >= {"requires_capture", "succeeded"}
    assert sdk_literals(stripe.checkout.Session, "status") >= {"open", "complete", "expired"}
    assert "paid" in sdk_literals(stripe.checkout.Session, "payment_status")
    assert "failed" in sdk_literals(stripe.Charge, "status")


def test_every_payment_intent_status_is_mapped():
    unmapped = sdk_literals(stripe.PaymentIntent, "status") - set(PAYMENT_INTENT_STATUS)
    assert not unmapped, f"PaymentIntent statuses missing from {MAPPING_VERSION}: {unmapped}"


def test_every_checkout_session_status_pair_is_mapped():
    statuses = sdk_literals(stripe.checkout.Session, "status")
    payment_statuses = sdk_literals(stripe.checkout.Session, "payment_status")
    pairs = {(s, p) for s in statuses for p in payment_statuses}
    unmapped = pairs - set(CHECKOUT_SESSION_STATUS)
    assert not unmapped, f"Checkout Session pairs missing from {MAPPING_VERSION}: {unmapped}"


def test_every_charge_status_is_named():
    unmapped = sdk_literals(stripe.Charge, "status") - set(ChargeStatus)
    assert not unmapped, f"Charge statuses missing from {MAPPING_VERSION}: {unmapped}"


def test_every_refund_status_is_mapped():
    assert set(REFUND_STATUS_COUNTS) >= REFUND_STATUSES


def test_the_refund_statuses_are_still_the_ones_the_sdk_documents():
    """Refund.status has no Literal: read the SDK's docstring, so a new one is not missed."""
    source = inspect.getsource(stripe.Refund)
    sentence = re.search(r"Status of the refund\. This can be (.+?)\.\s", source)
    assert sentence, "the SDK no longer documents Refund.status the same way: check by hand"
    assert set(re.findall(r"`(\w+)`", sentence.group(1))) == REFUND_STATUSES


def test_the_table_names_no_status_the_sdk_does_not_know():
    """A misspelt key would leave the real status unmapped and still look covered."""
    assert set(PAYMENT_INTENT_STATUS) <= sdk_literals(stripe.PaymentIntent, "status")
    assert set(ChargeStatus) <= sdk_literals(stripe.Charge, "status")
    assert set(REFUND_STATUS_COUNTS) == REFUND_STATUSES
    statuses = sdk_literals(stripe.checkout.Session, "status")
    payment_statuses = sdk_literals(stripe.checkout.Session, "payment_status")
    assert {s for s, _ in CHECKOUT_SESSION_STATUS} <= statuses
    assert {p for _, p in CHECKOUT_SESSION_STATUS} <= payment_statuses


@pytest.mark.parametrize(
    ("enum", "cls", "attribute"),
    [
        (PaymentIntentStatus, stripe.PaymentIntent, "status"),
        (CancellationReason, stripe.PaymentIntent, "cancellation_reason"),
        (CheckoutSessionStatus, stripe.checkout.Session, "status"),
        (CheckoutPaymentStatus, stripe.checkout.Session, "payment_status"),
        (ChargeStatus, stripe.Charge, "status"),
        (DisputeStatus, stripe.Dispute, "status"),
        (RefundReason, stripe.Refund, "reason"),
        (CardFeatureStatus, stripe.Charge.PaymentMethodDetails.Card.Overcapture, "status"),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_each_status_enum_names_exactly_the_statuses_the_sdk_knows(enum, cls, attribute):
    """The statuses are named once, in the enums; they are the SDK's, no more, no fewer."""
    assert set(enum) == sdk_literals(cls, attribute)


def test_the_refund_status_enum_is_the_documented_one():
    assert set(RefundStatus) == REFUND_STATUSES


def test_a_refund_status_the_table_does_not_know_counts_as_a_pending_one():
    """The refund handler decides through the table; Stripe's amounts then say the rest."""
    assert refund_counts("requires_action") and refund_counts("some_new_status")
    assert not refund_counts("failed") and not refund_counts("canceled")


def test_every_dispute_status_the_sdk_lists_has_a_rank():
    """As for PaymentIntents: an SDK that lists a dispute status the table lacks fails here."""
    statuses = sdk_literals(stripe.Dispute, "status")
    assert set(DISPUTE_RANK) == statuses
    assert set(DISPUTE_OUTCOMES) <= statuses


@pytest.mark.parametrize(
    ("current", "new", "follows"),
    [
        ("needs_response", "under_review", True),
        ("won", "under_review", False),  # a late update never reopens it
        ("lost", "appeal_needs_response", True),
        ("appeal_needs_response", "appeal_under_review", True),
        ("appeal_under_review", "won", True),  # the appeal's outcome
        ("appeal_under_review", "appeal_needs_response", False),
        ("won", "needs_response", False),
    ],
)
def test_a_dispute_status_follows_only_forward(current, new, follows):
    assert dispute_status_follows(current, new) is follows


def test_refunds_that_count():
    assert {s for s, counts in REFUND_STATUS_COUNTS.items() if counts} == {
        "pending",
        "requires_action",
        "succeeded",
    }


def test_lapsed_cancellation_reasons_are_stripes_own():
    """Stripe cancels a PaymentIntent itself with `automatic` (the hold lapsed) or `expired`;
    `duplicate`, `fraudulent`, `requested_by_customer` and `abandoned` are reasons the
    merchant gives when voiding, and must read as a void."""
    reasons = sdk_literals(stripe.PaymentIntent, "cancellation_reason")
    assert reasons >= LAPSED_CANCELLATION_REASONS
    assert {"automatic", "expired"} == LAPSED_CANCELLATION_REASONS


@pytest.mark.parametrize("reason", sorted(VOID_REASONS))
def test_a_void_with_any_reason_staff_can_choose_is_a_void(reason):
    canceled = event_for_payment_intent("canceled", amounts=zero(), cancellation_reason=reason)
    assert canceled is E.VOIDED


# -- event_for_payment_intent -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("requires_confirmation", E.STARTED),
        ("requires_action", E.ACTION_REQUIRED),
        ("processing", E.STARTED),
        ("requires_capture", E.AUTHORIZED),
        ("succeeded", E.CAPTURED),
        ("canceled", E.VOIDED),
    ],
)
def test_plain_statuses(status, event):
    assert event_for_payment_intent(status, amounts=zero()) is event


def test_requires_payment_method_before_any_attempt_says_nothing():
    assert event_for_payment_intent("requires_payment_method", amounts=zero()) is None


def test_requires_payment_method_after_an_attempt_is_a_failure():
    failed = event_for_payment_intent(
        "requires_payment_method", amounts=zero(), has_failed_attempt=True
    )
    assert failed is E.FAILED


@pytest.mark.parametrize(
    ("reason", "event"),
    [
        ("automatic", E.EXPIRED),  # the hold lapsed (7 days for online cards)
        ("expired", E.EXPIRED),
        ("requested_by_customer", E.VOIDED),
        ("duplicate", E.VOIDED),
        ("fraudulent", E.VOIDED),
        ("abandoned", E.VOIDED),
        (None, E.VOIDED),
    ],
)
def test_canceled_by_cancellation_reason(reason, event):
    assert event_for_payment_intent("canceled", amounts=zero(), cancellation_reason=reason) is event


@pytest.mark.parametrize(
    ("captured", "refunded", "event"),
    [
        (2500, 0, E.CAPTURED),
        (2500, 1, E.PARTIALLY_REFUNDED),
        (2500, 1000, E.PARTIALLY_REFUNDED),
        (2500, 2499, E.PARTIALLY_REFUNDED),
        (2500, 2500, E.REFUNDED),
        (1500, 1500, E.REFUNDED),  # partial capture, then all of it refunded
    ],
)
def test_succeeded_with_refunds(captured, refunded, event):
    amounts = Amounts(authorized=2500, capturable=0, captured=captured, refunded=refunded)
    assert event_for_payment_intent("succeeded", amounts=amounts) is event


def test_refunds_only_matter_once_succeeded():
    amounts = Amounts(authorized=2500, capturable=2500, captured=0, refunded=100)
    assert event_for_payment_intent("requires_capture", amounts=amounts) is E.AUTHORIZED


def test_an_unknown_status_raises():
    with pytest.raises(UnmappedStatus) as raised:
        event_for_payment_intent("requires_reauthorization", amounts=zero())
    error = raised.value
    assert (error.kind, error.status) == ("payment_intent", "requires_reauthorization")
    assert MAPPING_VERSION in str(error)
    assert isinstance(error, ValueError)


# -- the version ------------------------------------------------------------------------


def test_mapping_version_is_a_dated_non_empty_string():
    assert isinstance(MAPPING_VERSION, str)
    assert MAPPING_VERSION.strip()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", MAPPING_VERSION)


def test_state_changes_record_the_mapping_version(sandbox_app, make_order):
    """Against localstripe: every state change on the order's timeline names the table."""
    order = make_order()
    assert "is on hold on your card" in pay_with_test_card(sandbox_app, order.id).get_data(
        as_text=True
    )
    entries = state_changes(sandbox_app, order.id)
    moves = [(entry["from"], entry["to"]) for entry in entries]
    versions = {entry.get("mapping_version") for entry in entries}
    assert moves == [("open", "processing"), ("processing", "authorized")]
    assert versions == {MAPPING_VERSION}
