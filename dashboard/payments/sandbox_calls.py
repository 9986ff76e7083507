"""The gateway's calls that exist only in the sandbox (localstripe): test cards by number,
its stand-in for 3-D Secure, and the card details its charges leave out. Each refuses to
run against real Stripe."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stripe

from dashboard.payments import errors
from dashboard.payments.localstripe_compat import LocalstripeCompat


class SandboxCalls:
    """Mixed into `StripeGateway`, whose client, compat flag and error translation these use."""

    compat: LocalstripeCompat | None
    _client: stripe.StripeClient

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def sandbox_card_payment_method(self, card_number: str) -> str:
        """A PaymentMethod for a test card number; localstripe accepts raw numbers."""
        if self.compat is None:
            raise errors.SandboxOnly("Raw card numbers are only accepted by the sandbox.")
        method = self._call(
            "create sandbox payment method",
            lambda: self._client.v1.payment_methods.create(
                params={
                    "type": "card",
                    "card": {
                        "number": card_number,
                        "exp_month": 12,
                        "exp_year": datetime.now(UTC).year + 3,
                        "cvc": "123",
                    },
                }
            ),
        )
        return str(method.id)

    def sandbox_authenticate(self, payment_intent_id: str, client_secret: str, ok: bool) -> None:
        """Complete (or fail) localstripe's stand-in for the 3-D Secure step."""
        if self.compat is None:
            raise errors.SandboxOnly("3-D Secure is completed by the bank, not by us.")
        self._call(
            "sandbox 3-D Secure",
            lambda: self._client.raw_request(
                "post",
                f"/v1/payment_intents/{payment_intent_id}/_authenticate",
                client_secret=client_secret,
                success="true" if ok else "false",
            ),
        )

    def _sandbox_card(self, payment_method_id: str) -> dict[str, Any] | None:
        """localstripe's charges carry no card details; its payment method has them."""
        try:
            method = self._client.v1.payment_methods.retrieve(payment_method_id)
        except stripe.StripeError:
            return None
        card = method.to_dict().get("card")
        return card if isinstance(card, dict) else None
