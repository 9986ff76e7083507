"""The timeline's headlines, per kind of entry: plain words from the entry's data, and its
stored summary when the data does not say enough (rows written by an older release)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.models import TimelineEntry, TimelineKind, User
from dashboard.views.timeline_headlines import Headline, headline, timeline_lines

STAFF = "ana@shop.example"
HOLD_UNTIL = datetime(2026, 12, 8, 21, 30, tzinfo=UTC)


def entry(kind: TimelineKind | str, data: object, *, summary="the stored summary", actor=None):
    return TimelineEntry(
        kind=str(kind),
        summary=summary,
        data=data,
        actor=User(email=actor) if actor else None,
    )


def words(found: Headline) -> str:
    return found.text(lambda moment: moment.strftime("%d %b %H:%M"))


def said(kind, data, *, actor=None, currency="USD") -> str:
    return words(headline(entry(kind, data, actor=actor), currency))


K = TimelineKind


@pytest.mark.parametrize(
    ("data", "actor", "expected"),
    [
        (
            {"action": "create_order", "total_amount": 2500},
            None,
            "Order created for $25.00 by the system",
        ),
        ({"action": "capture", "amount": 1800}, STAFF, f"Capture of $18.00 requested by {STAFF}"),
        (
            {"action": "void", "reason": "duplicate"},
            STAFF,
            f"Release of the hold requested by {STAFF}",
        ),
        (
            {"action": "void", "reason": "abandoned"},
            None,
            "Release of the hold requested by the system",
        ),
        ({"action": "refund", "amount": 500}, STAFF, f"Refund of $5.00 requested by {STAFF}"),
        (
            {"action": "set_payment_method", "method": "payment_page"},
            STAFF,
            f"Payment method set to the card payment page by {STAFF}",
        ),
    ],
)
def test_staff_actions(data, actor, expected):
    assert said(K.STAFF_ACTION, data, actor=actor) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"action": "refund", "amount": 500, "status": "succeeded"},
            "Stripe confirmed the refund of $5.00",
        ),
        (
            {"action": "capture", "amount": 1800, "status": "succeeded"},
            "Stripe confirmed the capture of $18.00",
        ),
        ({"action": "void", "status": "succeeded"}, "Stripe confirmed the release of the hold"),
        (
            {"action": "capture", "amount": 1800, "status": "failed", "error_code": "x"},
            "Stripe refused the capture of $18.00",
        ),
        (
            {"action": "create_payment_intent", "amount": 2500, "status": "failed"},
            "The buyer's card was declined",
        ),
        (
            {"action": "create_payment_intent", "amount": 2500, "status": "succeeded"},
            "Stripe opened a payment of $25.00 for the buyer",
        ),
        (
            {"action": "refund", "amount": 500, "status": "unknown"},
            "No answer from Stripe about the refund of $5.00: awaiting confirmation",
        ),
        ({"action": "void", "status": "pending"}, "Sent the release of the hold to Stripe"),
        (
            {"sweep": "authorization", "action": "void", "capture_before": "2026-12-08 21:30 UTC"},
            "The hold's capture deadline passed: the authorization sweep releases it",
        ),
        (
            {"sweep": "authorization", "differences": ["captured $0.00 here, $25.00 at Stripe"]},
            "Out of step with Stripe, found by the authorization sweep: captured $0.00 here, "
            "$25.00 at Stripe",
        ),
    ],
)
def test_calls_to_stripe(data, expected):
    assert said(K.API_CALL, data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {
                "type": "payment_intent.succeeded",
                "outcome": "ignored",
                "reason": "the order is already captured: nothing to change",
            },
            "Webhook payment_intent.succeeded: already up to date",
        ),
        (
            {
                "type": "payment_intent.requires_action",
                "outcome": "ignored",
                "reason": "payment intent requires_action says nothing new",
            },
            "Webhook payment_intent.requires_action: already up to date",
        ),
        (
            {"type": "charge.refunded", "outcome": "applied", "reason": "Captured → Refunded"},
            "Webhook charge.refunded: order updated",
        ),
        (
            {
                "type": "payment_intent.payment_failed",
                "outcome": "ignored",
                "reason": "It concerns payment pi_1, an earlier attempt; the order's is pi_2.",
            },
            "Webhook payment_intent.payment_failed: about an earlier payment attempt; "
            "nothing to do",
        ),
        (
            {
                "type": "payment_intent.succeeded",
                "outcome": "ignored",
                "reason": "Not applied: the captured amount 9 is more than the hold allows (5)",
            },
            "Webhook payment_intent.succeeded: not applied: its amounts cannot be right",
        ),
        (
            {"type": "payment_intent.succeeded", "outcome": "applied", "out_of_order": True},
            "Webhook payment_intent.succeeded: order updated, arrived out of order",
        ),
        ({"type": "charge.captured"}, "Webhook charge.captured: received, not processed yet"),
    ],
)
def test_webhooks(data, expected):
    assert said(K.WEBHOOK, data) == expected


def test_an_authorization_says_the_amount_and_until_when_it_is_held():
    data = {
        "from": "processing",
        "to": "authorized",
        "event": "authorized",
        "amount": 2500,
        "capture_before": HOLD_UNTIL.isoformat(),
    }
    found = headline(entry(K.STATE_CHANGE, data), "USD")
    # The moment stays a moment: the page writes it in the reader's time zone.
    assert found.parts == ("Card authorized for $25.00", ", hold until ", HOLD_UNTIL)
    assert words(found) == "Card authorized for $25.00, hold until 08 Dec 21:30"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"from": "authorized", "to": "captured", "amount": 1800, "released": 700},
            "Captured $18.00; the other $7.00 went back to the buyer",
        ),
        (
            {"from": "authorized", "to": "captured", "amount": 2500, "released": 0},
            "Captured $25.00",
        ),
        (
            {"from": "captured", "to": "partially_refunded", "refunded": 500, "captured": 1800},
            "$5.00 of $18.00 refunded to the buyer",
        ),
        (
            {"from": "captured", "to": "refunded", "refunded": 1800, "captured": 1800},
            "All $18.00 refunded to the buyer",
        ),
        (
            {"from": "authorized", "to": "voided", "released": 2500},
            "Hold of $25.00 released; the buyer was not charged",
        ),
        ({"from": "authorized", "to": "voided"}, "Hold released; the buyer was not charged"),
        (
            {"from": "authorized", "to": "expired"},
            "The hold expired before it was captured; the buyer was not charged",
        ),
        (
            {"from": "processing", "to": "expired"},
            "The payment expired before the buyer finished it",
        ),
        ({"from": "open", "to": "processing", "event": "started"}, "The buyer started paying"),
        (
            {"from": "processing", "to": "processing", "event": "action_required"},
            "The buyer's bank asked them to verify the payment",
        ),
        (
            {"from": "processing", "to": "failed", "stripe_code": "insufficient_funds"},
            "Payment attempt failed: the card was declined",
        ),
        (
            {
                "from": "processing",
                "to": "failed",
                "stripe_code": "payment_intent_authentication_failure",
            },
            "Payment attempt failed: the buyer's bank could not verify it",
        ),
        ({"from": "processing", "to": "failed"}, "Payment attempt failed"),
        (
            {
                "from": "captured",
                "to": "captured",
                "event": "refund_failed",
                "reason": "lost_or_stolen_card",
            },
            "A refund failed (lost_or_stolen_card); the money stays with the merchant",
        ),
        (
            {"event": "captured", "reason": "An order that is voided cannot be captured."},
            "Stripe's news was not applied: An order that is voided cannot be captured.",
        ),
        (
            {"refused": "the captured amount 9 is more than the hold allows (5)"},
            "Stripe's news was not applied: the captured amount 9 is more than the hold allows (5)",
        ),
    ],
)
def test_state_changes(data, expected):
    assert said(K.STATE_CHANGE, data) == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("PAYMENT_SUCCEEDED", "Other systems will be told the payment was captured"),
        ("PAYMENT_FAILED", "Other systems will be told a payment failed"),
        ("ORDER_CREATED", "Other systems will be told a payment was started"),
    ],
)
def test_outbox(kind, expected):
    assert said(K.OUTBOX, {"type": kind, "outbox_event_id": 7}) == expected


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        # Written before the amounts were kept: the states alone cannot say how much.
        (K.STATE_CHANGE, {"from": "processing", "to": "authorized", "event": "authorized"}),
        (K.STATE_CHANGE, {"from": "authorized", "to": "captured", "event": "captured"}),
        (K.STATE_CHANGE, {"from": "captured", "to": "partially_refunded"}),
        (K.STATE_CHANGE, {}),
        (K.STAFF_ACTION, {"action": "capture"}),
        (K.STAFF_ACTION, {"action": "something_new", "amount": 5}),
        (K.API_CALL, {"action": "capture", "amount": 100, "status": "a_status_from_later"}),
        (K.API_CALL, {"sweep": "authorization"}),
        (K.WEBHOOK, {}),
        (K.OUTBOX, {"type": "SOMETHING_NEW"}),
        ("refund_note", {"a": 1}),  # a kind a newer release writes
        # Data no release writes: a wrong type is the summary, never a 500.
        (K.STATE_CHANGE, {"to": "captured", "amount": "1800"}),
        (K.STATE_CHANGE, {"to": "captured", "amount": True}),
        (K.STAFF_ACTION, ["not", "a", "mapping"]),
        (K.STAFF_ACTION, None),
    ],
)
def test_data_that_does_not_say_enough_keeps_the_stored_summary(kind, data):
    found = headline(entry(kind, data), "USD")
    assert found == Headline(("the stored summary",))
    (line,) = timeline_lines([entry(kind, data)], "USD")
    assert line.headline_is_summary


def test_a_hold_deadline_that_is_not_a_time_is_left_out():
    data = {"to": "authorized", "amount": 2500, "capture_before": "next Tuesday"}
    assert said(K.STATE_CHANGE, data) == "Card authorized for $25.00"


def test_amounts_are_in_the_orders_currency():
    assert said(
        K.STAFF_ACTION, {"action": "refund", "amount": 500}, actor=STAFF, currency="JPY"
    ) == (f"Refund of ¥500 requested by {STAFF}")
