"""What buyers read: Stripe's decline codes as sentences (one table, no fraud signals, no
developer words), and their payment's status as a sentence for every order state."""

from __future__ import annotations

import pytest

from dashboard.domain.buyer_words import (
    BUYER_FAILURES,
    CHECKOUT_EXPIRED,
    DECLINE_SENTENCES,
    GENERIC_DECLINE,
    Tone,
    Waiting,
    decline_sentence,
    failure_sentence,
    payment_status,
)
from dashboard.domain.orders import OrderState
from dashboard.domain.stripe_mapping import Amounts

# Words from Stripe's API and its developer messages that mean nothing to a buyer.
DEVELOPER_WORDS = (
    "PaymentMethod",
    "PaymentIntent",
    "payment_intent",
    "requires_action",
    "requires_payment_method",
    "decline_code",
    "authentication_failure",
    "card_declined",
    "Stripe",
)
FRAUD_SIGNALS = ("lost_card", "stolen_card", "fraudulent", "pickup_card", "merchant_blacklist")


@pytest.mark.parametrize(
    ("code", "sentence"),
    [
        ("card_declined", GENERIC_DECLINE),
        ("generic_decline", GENERIC_DECLINE),
        ("do_not_honor", GENERIC_DECLINE),
        ("insufficient_funds", "Your card has insufficient funds. Try another card."),
        ("expired_card", "Your card has expired. Try another card."),
        ("incorrect_cvc", "The card's security code is incorrect. Check it and try again."),
        ("processing_error", "The card could not be processed. Try again in a moment."),
        (
            "authentication_required",
            "Your bank asked for verification. Try again and complete the verification step.",
        ),
        (
            "payment_intent_authentication_failure",
            "Your bank could not verify this payment. Try again or use another card.",
        ),
    ],
)
def test_stripes_codes_become_sentences_that_say_what_to_do(code, sentence):
    assert decline_sentence(code) == sentence


@pytest.mark.parametrize("code", FRAUD_SIGNALS)
def test_a_fraud_signal_reads_as_a_plain_decline(code):
    """Telling "stolen" apart from "declined" helps whoever holds a stolen card."""
    assert code in DECLINE_SENTENCES  # named on purpose, not missed
    assert decline_sentence(code) == GENERIC_DECLINE


@pytest.mark.parametrize("code", [None, "", "a_code_stripe_adds_next_year", "<script>"])
def test_a_code_the_table_does_not_know_reads_as_a_plain_decline(code):
    assert decline_sentence(code) == GENERIC_DECLINE


def test_no_sentence_a_buyer_can_read_has_stripes_developer_words_or_names_fraud():
    for sentence in BUYER_FAILURES:
        assert sentence.endswith("."), sentence
        for word in (*DEVELOPER_WORDS, "fraud", "stolen", "lost"):
            assert word.lower() not in sentence.lower(), (word, sentence)


def test_a_stored_failure_is_shown_only_if_it_is_ours():
    """A release before this one stored Stripe's own message: the buyer never reads it."""
    assert failure_sentence(CHECKOUT_EXPIRED) == CHECKOUT_EXPIRED
    assert failure_sentence(decline_sentence("expired_card")) == decline_sentence("expired_card")
    assert failure_sentence("The provided PaymentMethod has failed authentication.") == (
        GENERIC_DECLINE
    )
    assert failure_sentence(None) == GENERIC_DECLINE


def status(state, *, authorized=0, capturable=0, captured=0, refunded=0, **kw):
    amounts = Amounts(authorized, capturable, captured, refunded)
    return payment_status(state, amounts, total=2500, currency="USD", **kw)


S = OrderState
# Every state, with the amounts such an order has, and what its buyer reads.
EVERY_STATE = [
    (S.OPEN, {}, "Not paid yet.", Tone.INFO),
    (
        S.PROCESSING,
        {},
        "Not paid yet: the payment was started, not finished.",
        Tone.INFO,
    ),
    (
        S.AUTHORIZED,
        {"authorized": 2500, "capturable": 2500},
        "$25.00 is on hold on your card; you will be charged when the merchant confirms your "
        "order.",
        Tone.SUCCESS,
    ),
    (
        S.PARTLY_CAPTURED,
        {"authorized": 2500, "captured": 1000, "capturable": 1500},
        "Paid $10.00 so far; $15.00 is still on hold on your card for the rest of your order.",
        Tone.SUCCESS,
    ),
    (S.CAPTURED, {"authorized": 2500, "captured": 2500}, "Paid $25.00.", Tone.SUCCESS),
    (
        S.PARTIALLY_REFUNDED,
        {"authorized": 2500, "captured": 1800, "refunded": 500},
        "Paid $18.00 of $25.00; $5.00 refunded.",
        Tone.SUCCESS,
    ),
    (
        S.REFUNDED,
        {"authorized": 2500, "captured": 2500, "refunded": 2500},
        "Paid $25.00; $25.00 refunded, all of it.",
        Tone.INFO,
    ),
    (
        S.VOIDED,
        {"authorized": 2500},
        "The hold was released; you were not charged.",
        Tone.INFO,
    ),
    (
        S.EXPIRED,
        {"authorized": 2500},
        "The hold was released; you were not charged.",
        Tone.INFO,
    ),
    (
        S.FAILED,
        {"failure": decline_sentence("insufficient_funds")},
        "Your card has insufficient funds. Try another card.",
        Tone.ERROR,
    ),
]


def test_every_state_has_its_sentence_here():
    assert {state for state, *_ in EVERY_STATE} == set(OrderState)


@pytest.mark.parametrize(("state", "facts", "sentence", "tone"), EVERY_STATE)
def test_the_buyer_reads_where_the_payment_stands(state, facts, sentence, tone):
    written = status(state, **facts)
    assert (written.sentence, written.tone) == (sentence, tone)
    for word in DEVELOPER_WORDS:
        assert word not in sentence


def test_a_partial_capture_says_the_rest_was_released():
    assert status(S.CAPTURED, authorized=2500, captured=1800).sentence == (
        "Paid $18.00 of $25.00; the other $7.00 was released, not charged."
    )


def test_a_partial_capture_refunded_in_full():
    refunded = status(S.REFUNDED, authorized=2500, captured=1800, refunded=1800)
    assert refunded.sentence == "Paid $18.00 of $25.00; $18.00 refunded, all of it."


def test_a_checkout_that_lapsed_before_any_hold_says_nothing_was_charged():
    assert status(S.EXPIRED).sentence == "This payment was not completed; you were not charged."


def test_a_request_to_verify_with_the_bank_is_an_instruction_not_good_news():
    asked = status(S.PROCESSING, waiting=Waiting.VERIFICATION)
    assert asked.sentence == "Your bank needs you to verify this payment."
    assert asked.tone is Tone.INFO
    waiting = status(S.PROCESSING, waiting=Waiting.BANK)
    assert waiting.sentence.startswith("Still processing: your bank has not answered yet.")
    assert waiting.tone is Tone.INFO


def test_a_failure_stored_by_an_older_release_is_read_as_a_plain_decline():
    failed = status(S.FAILED, failure="The provided PaymentMethod has failed authentication.")
    assert (failed.sentence, failed.tone) == (GENERIC_DECLINE, Tone.ERROR)


def test_amounts_are_written_in_the_orders_currency():
    held = payment_status(S.AUTHORIZED, Amounts(1500, 1500, 0, 0), total=1500, currency="JPY")
    assert held.sentence.startswith("¥1,500 is on hold on your card")
