"""The project's own payment errors, each with a message a person can act on."""

from __future__ import annotations

#: The code recorded for a Stripe 5xx that names none. Stripe keeps such an answer for the
#: idempotency key and replays it, so resending with that key cannot get past it.
STRIPE_INTERNAL_ERROR = "api_error"


class PaymentError(Exception):
    """Stripe said no, or could not be asked. `message` is safe to show to staff or buyers."""

    #: True when the request may have taken effect at Stripe: settle by re-reading.
    outcome_unknown = False
    #: True when trying again later, with the same key, may succeed.
    retryable = False

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


class InvalidRequest(PaymentError):
    """Stripe refused the request as asked (wrong state, amount, or parameter)."""


class RateLimited(PaymentError):
    retryable = True


class IdempotencyKeyInUse(PaymentError):
    """The same request is still running at Stripe (409): its outcome is not known yet."""

    retryable = True
    outcome_unknown = True


class OutcomeUnknown(PaymentError):
    """No answer (timeout, connection lost, Stripe 5xx): it may or may not have happened."""

    retryable = True
    outcome_unknown = True


class StripeConfigurationError(PaymentError):
    """Our keys or account settings are wrong; staff cannot fix this by retrying."""


class SandboxOnly(PaymentError):
    """A sandbox operation was asked of real Stripe."""
