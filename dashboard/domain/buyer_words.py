"""What buyers are told: Stripe's decline codes as sentences (one table), and where their
payment stands as one sentence written from the order's state and amounts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dashboard.domain.money import format_minor
from dashboard.domain.orders import OrderState
from dashboard.domain.stripe_mapping import Amounts

GENERIC_DECLINE = "Your card was declined. Try another card or contact your bank."
CHECKOUT_EXPIRED = "The checkout page expired before the payment was made. Try again when ready."
DELAYED_PAYMENT_FAILED = (
    "Your payment did not go through after checkout. Try again or use another way to pay."
)
_TRY_AGAIN_SOON = "The card could not be processed. Try again in a moment."
_CHECK_DETAILS = "Check it and try again."

# Stripe's `decline_code` (else its `code`) -> what the buyer reads. Every sentence says what
# to do next. Codes that are fraud signals (lost, stolen, fraudulent, pick-up, blocklisted)
# get the generic sentence, as Stripe advises: telling them apart helps whoever holds a
# stolen card, not the buyer. A code missing here is the generic sentence too.
DECLINE_SENTENCES: dict[str, str] = {
    "card_declined": GENERIC_DECLINE,
    "generic_decline": GENERIC_DECLINE,
    "do_not_honor": GENERIC_DECLINE,
    "do_not_try_again": GENERIC_DECLINE,
    "call_issuer": GENERIC_DECLINE,
    "no_action_taken": GENERIC_DECLINE,
    "not_permitted": GENERIC_DECLINE,
    "restricted_card": GENERIC_DECLINE,
    "revocation_of_all_authorizations": GENERIC_DECLINE,
    "revocation_of_authorization": GENERIC_DECLINE,
    "security_violation": GENERIC_DECLINE,
    "service_not_allowed": GENERIC_DECLINE,
    "stop_payment_order": GENERIC_DECLINE,
    "transaction_not_allowed": GENERIC_DECLINE,
    "new_account_information_available": GENERIC_DECLINE,
    "lost_card": GENERIC_DECLINE,
    "stolen_card": GENERIC_DECLINE,
    "fraudulent": GENERIC_DECLINE,
    "pickup_card": GENERIC_DECLINE,
    "merchant_blacklist": GENERIC_DECLINE,
    "insufficient_funds": "Your card has insufficient funds. Try another card.",
    "card_velocity_exceeded": "Your card has reached its limit. Try another card.",
    "withdrawal_count_limit_exceeded": "Your card has reached its limit. Try another card.",
    "expired_card": "Your card has expired. Try another card.",
    "incorrect_cvc": f"The card's security code is incorrect. {_CHECK_DETAILS}",
    "invalid_cvc": f"The card's security code is incorrect. {_CHECK_DETAILS}",
    "incorrect_number": f"The card number is incorrect. {_CHECK_DETAILS}",
    "invalid_number": f"The card number is incorrect. {_CHECK_DETAILS}",
    "invalid_expiry_month": f"The card's expiry date is incorrect. {_CHECK_DETAILS}",
    "invalid_expiry_year": f"The card's expiry date is incorrect. {_CHECK_DETAILS}",
    "incorrect_zip": f"The card's postal code is incorrect. {_CHECK_DETAILS}",
    "incorrect_pin": f"The card's PIN is incorrect. {_CHECK_DETAILS}",
    "processing_error": _TRY_AGAIN_SOON,
    "issuer_not_available": "Your bank could not be reached. Try again in a moment.",
    "try_again_later": _TRY_AGAIN_SOON,
    "reenter_transaction": _TRY_AGAIN_SOON,
    "approve_with_id": _TRY_AGAIN_SOON,
    "currency_not_supported": "Your card cannot pay in this currency. Try another card.",
    "card_not_supported": "Your card does not support this purchase. Try another card.",
    "testmode_decline": "This card cannot be used for payments here. Try another card.",
    "authentication_required": (
        "Your bank asked for verification. Try again and complete the verification step."
    ),
    "payment_intent_authentication_failure": (
        "Your bank could not verify this payment. Try again or use another card."
    ),
}

# Everything a stored failure may say to the buyer: a sentence of ours, never Stripe's text.
BUYER_FAILURES = frozenset(DECLINE_SENTENCES.values()) | {
    CHECKOUT_EXPIRED,
    DELAYED_PAYMENT_FAILED,
}


def decline_sentence(code: str | None) -> str:
    """The buyer's sentence for Stripe's decline code (or error code)."""
    return DECLINE_SENTENCES.get(code or "", GENERIC_DECLINE)


def failure_sentence(stored: str | None) -> str:
    """A stored failure as the buyer may read it: ours as it is, anything else (Stripe's own
    message, kept by an older release) as the generic decline."""
    return stored if stored in BUYER_FAILURES else GENERIC_DECLINE


class Tone(StrEnum):
    """How a sentence is shown: good news, something to know or do, or a problem."""

    SUCCESS = "success"
    INFO = "info"
    ERROR = "error"


class Waiting(StrEnum):
    """What a payment under way is waiting for, when Stripe has said."""

    VERIFICATION = "verification"  # the buyer, at their bank's 3-D Secure step
    BANK = "bank"  # the bank's answer


@dataclass(frozen=True)
class BuyerStatus:
    sentence: str
    tone: Tone


def payment_status(
    state: OrderState,
    amounts: Amounts,
    *,
    total: int,
    currency: str,
    failure: str | None = None,
    waiting: Waiting | None = None,
) -> BuyerStatus:
    """Where the buyer's payment stands, in one sentence: what was held, captured, refunded
    or released, from the order's state and amounts."""

    def money(amount: int) -> str:
        return format_minor(amount, currency)

    paid = money(amounts.captured)
    if amounts.captured < total:
        paid = f"{paid} of {money(total)}"
    match state:
        case OrderState.OPEN:
            return BuyerStatus("Not paid yet.", Tone.INFO)
        case OrderState.PROCESSING if waiting is Waiting.VERIFICATION:
            return BuyerStatus("Your bank needs you to verify this payment.", Tone.INFO)
        case OrderState.PROCESSING if waiting is Waiting.BANK:
            return BuyerStatus(
                "Still processing: your bank has not answered yet. This page will say when.",
                Tone.INFO,
            )
        case OrderState.PROCESSING:
            return BuyerStatus("Not paid yet: the payment was started, not finished.", Tone.INFO)
        case OrderState.AUTHORIZED:
            held = money(amounts.capturable or amounts.authorized or total)
            return BuyerStatus(
                f"{held} is on hold on your card; you will be charged when the merchant "
                "confirms your order.",
                Tone.SUCCESS,
            )
        case OrderState.PARTLY_CAPTURED:
            held = money(amounts.capturable)
            return BuyerStatus(
                f"Paid {money(amounts.captured)} so far; {held} is still on hold on your "
                "card for the rest of your order.",
                Tone.SUCCESS,
            )
        case OrderState.CAPTURED if amounts.captured < total:
            released = money(total - amounts.captured)
            return BuyerStatus(
                f"Paid {paid}; the other {released} was released, not charged.", Tone.SUCCESS
            )
        case OrderState.CAPTURED:
            return BuyerStatus(f"Paid {paid}.", Tone.SUCCESS)
        case OrderState.PARTIALLY_REFUNDED:
            return BuyerStatus(f"Paid {paid}; {money(amounts.refunded)} refunded.", Tone.SUCCESS)
        case OrderState.REFUNDED:
            return BuyerStatus(
                f"Paid {paid}; {money(amounts.refunded)} refunded, all of it.", Tone.INFO
            )
        case OrderState.VOIDED:
            return BuyerStatus("The hold was released; you were not charged.", Tone.INFO)
        case OrderState.EXPIRED if amounts.authorized:
            return BuyerStatus("The hold was released; you were not charged.", Tone.INFO)
        case OrderState.EXPIRED:
            return BuyerStatus("This payment was not completed; you were not charged.", Tone.INFO)
        case OrderState.FAILED:
            return BuyerStatus(failure_sentence(failure), Tone.ERROR)
    raise ValueError(state)
