"""The gateway's calls for an agent's Stripe shared payment token (`spt_…`): a
PaymentIntent that uses it, confirmed at once, and confirmed again with the agent's 3-D
Secure result when the bank asked for one.

The token goes in `payment_method_data[shared_payment_granted_token]`, a preview field of
Stripe's API version `2026-04-22.preview` that the SDK's stable types do not list, so these
calls alone are sent with that version. The token is never logged or kept: the SDK's DEBUG
lines are dropped (stripe_gateway), our errors carry Stripe's code, never its message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import stripe

from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.snapshots import PaymentIntentSnapshot

# The API version that has the field (Stripe's changelog of 2026-04-22, "Shared Payment
# Granted Token"); preview versions are asked for per request.
SHARED_TOKEN_API_VERSION = "2026-04-22.preview"  # noqa: S105 (a version)
TOKEN_FIELD = "shared_payment_granted_token"  # noqa: S105 (a field name)
# What a granted token looks like: Stripe's ids are `spt_` and letters, digits, underscores.
TOKEN_SHAPE = re.compile(r"spt_[A-Za-z0-9_]{1,200}")
ANY_TOKEN = re.compile(r"spt_[A-Za-z0-9_]*")


class _NoSharedTokens(logging.Filter):
    """Stripe's error messages repeat a token they refuse ("No such
    shared_payment.granted_token: 'spt_…'"), and the SDK logs them at INFO: any `spt_…` in
    a line of the SDK's is replaced before the line goes anywhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "spt_" in text:
            record.msg, record.args = ANY_TOKEN.sub("spt_[redacted]", text), ()
        return True


logging.getLogger("stripe").addFilter(_NoSharedTokens())


def is_shared_token(token: object) -> bool:
    return isinstance(token, str) and TOKEN_SHAPE.fullmatch(token) is not None


class SharedTokenCalls:
    """Mixed into `StripeGateway`, whose client, compat flag and error translation it uses."""

    compat: LocalstripeCompat | None
    _client: stripe.StripeClient

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def _snapshot(self, intent: Any) -> PaymentIntentSnapshot:
        raise NotImplementedError

    def sandbox_card_payment_method(self, card_number: str) -> str:
        raise NotImplementedError

    def pay_with_shared_token(
        self,
        *,
        token: str,
        amount: int,
        currency: str,
        capture_method: str,
        order_id: int,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> PaymentIntentSnapshot:
        """Create and confirm a PaymentIntent paid with the agent's shared payment token."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": capture_method,
            "confirm": True,
            "payment_method_data": {TOKEN_FIELD: token},
            "metadata": {**(metadata or {}), "order_id": str(order_id)},
        }
        if self.compat is not None:
            params = self.compat.shared_token_params(params, self.sandbox_card_payment_method)
        intent = self._call(
            "create payment intent with a shared payment token",
            lambda: self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={
                    "idempotency_key": idempotency_key,
                    "stripe_version": SHARED_TOKEN_API_VERSION,
                },
            ),
        )
        return self._snapshot(intent)

    def confirm_with_three_d_secure(
        self, payment_intent_id: str, *, three_d_secure: dict[str, str], idempotency_key: str
    ) -> PaymentIntentSnapshot:
        """Confirm again a payment that asked for 3-D Secure, with the result of the
        authentication the agent ran: Stripe's `payment_method_options.card.three_d_secure`,
        for 3-D Secure done outside Stripe. Sent with the version the payment was made with."""
        params: Any = {"payment_method_options": {"card": {"three_d_secure": three_d_secure}}}
        intent = self._call(
            "confirm payment intent with the agent's 3-D Secure result",
            lambda: self._client.v1.payment_intents.confirm(
                payment_intent_id,
                params=params,
                options={
                    "idempotency_key": idempotency_key,
                    "stripe_version": SHARED_TOKEN_API_VERSION,
                },
            ),
        )
        return self._snapshot(intent)
