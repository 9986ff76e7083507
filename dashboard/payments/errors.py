"""The project's own payment errors, each with a message a person can act on, and
Stripe's exceptions turned into them (`from_stripe`)."""

from __future__ import annotations

import logging
from typing import Any

import stripe

from dashboard.domain.buyer_words import decline_sentence
from dashboard.payments.charges import ChargeFacts, failed_attempt

log = logging.getLogger(__name__)

#: The code recorded for a Stripe 5xx that names none. Stripe keeps such an answer for the
#: idempotency key and replays it, so resending with that key cannot get past it.
STRIPE_INTERNAL_ERROR = "api_error"
#: An off-session payment the bank will only take with the buyer present.
AUTHENTICATION_REQUIRED = "authentication_required"


class PaymentError(Exception):
    """Stripe said no, or could not be asked. `message` is safe to show to staff or buyers."""

    #: True when the request may have taken effect at Stripe: settle by re-reading.
    outcome_unknown = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id


class CardDeclined(PaymentError):
    """The card or its issuer refused; the buyer should use another card."""

    #: The declined attempt's charge, when Stripe names it (each attempt has its own).
    charge_id: str | None = None
    #: The attempt as Stripe described it (codes, message, card), for the order page.
    attempt: ChargeFacts | None = None
    #: The PaymentIntent the refusal left behind (an off-session payment the bank wants the
    #: buyer to verify: `authentication_required`), when Stripe names it.
    payment_intent_id: str | None = None

    @property
    def needs_the_buyer(self) -> bool:
        """The bank asks the buyer to authenticate: only they can, on a pay page."""
        return self.code == AUTHENTICATION_REQUIRED


class InvalidRequest(PaymentError):
    """Stripe refused the request as asked (wrong state, amount, or parameter)."""


class RateLimited(PaymentError):
    """Stripe asked us to slow down (429): nothing was done."""


class IdempotencyKeyInUse(PaymentError):
    """The same request is still running at Stripe (409): its outcome is not known yet."""

    outcome_unknown = True


class OutcomeUnknown(PaymentError):
    """No answer (timeout, connection lost, Stripe 5xx): it may or may not have happened."""

    outcome_unknown = True


class StripeConfigurationError(PaymentError):
    """Our keys or account settings are wrong; staff cannot fix this by retrying."""


class SandboxOnly(PaymentError):
    """A sandbox operation was asked of real Stripe."""


REQUEST_MESSAGES = {
    "payment_intent_unexpected_state": (
        "Stripe says the payment is no longer in a state that allows this; "
        "it may have changed elsewhere. Refresh to see where it stands."
    ),
    "amount_too_large": "The amount is more than Stripe allows for this payment.",
    "charge_already_refunded": "This payment has already been refunded in full.",
    "charge_already_captured": "This hold has already been captured.",
    "charge_expired_for_capture": "The hold has expired and can no longer be captured.",
    "resource_missing": "Stripe does not know this payment (was it made with other keys?).",
}


def from_stripe(what: str, error: stripe.StripeError) -> PaymentError:
    """Stripe's exception -> ours, with a message for a person and nothing secret."""
    log.warning(
        "stripe %s failed: %s (%s)",
        what,
        type(error).__name__,
        error.code,
        extra={"stripe_request_id": error.request_id, "http_status": error.http_status},
    )
    kind, message, code = _classify(what, error)
    made = kind(message, code=code, http_status=error.http_status, request_id=error.request_id)
    if isinstance(made, CardDeclined):
        body: dict[str, Any] = error.json_body if isinstance(error.json_body, dict) else {}
        charge = (body.get("error") or {}).get("charge")
        made.charge_id = charge if isinstance(charge, str) and charge.startswith("ch_") else None
        made.attempt = failed_attempt(body.get("error"), None)
        intent = (body.get("error") or {}).get("payment_intent")
        if isinstance(intent, dict) and isinstance(intent.get("id"), str):
            made.payment_intent_id = intent["id"]
    return made


def _classify(what: str, error: stripe.StripeError) -> tuple[type[PaymentError], str, str | None]:
    """Which of our errors Stripe's is, what to tell a person, and the code to keep."""
    code = error.code
    if isinstance(error, stripe.CardError):
        body: dict[str, Any] = error.json_body if isinstance(error.json_body, dict) else {}
        decline = str((body.get("error") or {}).get("decline_code") or code)
        return CardDeclined, decline_sentence(decline), decline
    if isinstance(error, stripe.RateLimitError):
        return (
            RateLimited,
            "Stripe is receiving too many requests right now. Try again in a minute.",
            code,
        )
    if error.http_status == 409 or code == "idempotency_key_in_use":
        return (
            IdempotencyKeyInUse,
            f"The same {what} is still being processed by Stripe. "
            "Check again in a moment; it will not be done twice.",
            code,
        )
    if isinstance(error, stripe.APIConnectionError):
        return (
            OutcomeUnknown,
            f"No answer from Stripe for the {what}. It may or may not have happened; "
            "it is marked as awaiting confirmation and will be checked with Stripe.",
            code,
        )
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return (
            StripeConfigurationError,
            "Stripe refused our API key. An admin must check the Stripe settings.",
            code,
        )
    if isinstance(error, stripe.APIError) or (error.http_status or 0) >= 500:
        return (
            OutcomeUnknown,
            f"Stripe had an internal error during the {what}. It may or may not have "
            "happened; it is marked as awaiting confirmation and will be checked with Stripe.",
            code or STRIPE_INTERNAL_ERROR,
        )
    if isinstance(error, stripe.IdempotencyError):
        return (
            InvalidRequest,
            f"Stripe refused the {what}: the same request key was used for different "
            "details. Nothing was done.",
            code,
        )
    return InvalidRequest, REQUEST_MESSAGES.get(str(code), f"Stripe refused to {what}."), code
