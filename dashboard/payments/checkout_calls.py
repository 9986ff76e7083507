"""The gateway's calls for Stripe Checkout: creating a Checkout Session for an order (with
the card requests and, with the buyer's consent, the card kept for later), reading it, and
expiring it.

Mixed into `StripeGateway`, whose client, compat flag and error translation these use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import stripe
from stripe.params.checkout import SessionCreateParams

from dashboard.payments import errors
from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.saved_cards import CardSaving
from dashboard.payments.snapshots import (
    CheckoutSessionSnapshot,
    checkout_session_snapshot,
    request_id_of,
)


class CheckoutSessionCalls:
    """Checkout Sessions: create, read, expire."""

    compat: LocalstripeCompat | None
    _client: stripe.StripeClient

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def create_checkout_session(
        self,
        *,
        order_id: int,
        currency: str,
        line_items: list[tuple[str, int, int]],
        customer_email: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        idempotency_key: str,
        card_requests: dict[str, str] | None = None,
        saving: CardSaving | None = None,
    ) -> CheckoutSessionSnapshot:
        if self.compat is not None:
            raise errors.SandboxOnly(
                "Stripe Checkout is not available in the sandbox: localstripe has no "
                "Checkout Sessions. Use the payment page."
            )
        params: SessionCreateParams = {
            "mode": "payment",
            "client_reference_id": str(order_id),
            "metadata": {"order_id": str(order_id)},
            "customer_email": customer_email,
            "payment_intent_data": {
                "capture_method": "manual",
                "metadata": {"order_id": str(order_id)},
            },
            "line_items": [
                {
                    "quantity": quantity,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": unit_amount,
                        "product_data": {"name": description},
                    },
                }
                for description, quantity, unit_amount in line_items
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }
        if card_requests:
            # Checkout takes the same card requests under its own payment_method_options.
            params["payment_method_options"] = {"card": dict(card_requests)}  # type: ignore[typeddict-item]
        if saving is not None:
            # Stripe takes a customer or an email, not both; the customer has the email.
            del params["customer_email"]
            params["customer"] = saving.customer_id
            if saving.keep:
                # Checkout shows its own words about keeping the card.
                params["payment_intent_data"]["setup_future_usage"] = "off_session"
        session = self._call(
            "create checkout session",
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return _session_snapshot(session)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSessionSnapshot:
        session = self._call(
            "read checkout session",
            lambda: self._client.v1.checkout.sessions.retrieve(session_id),
        )
        return _session_snapshot(session)

    def expire_checkout_session(
        self, session_id: str, *, idempotency_key: str
    ) -> CheckoutSessionSnapshot:
        session = self._call(
            "expire checkout session",
            lambda: self._client.v1.checkout.sessions.expire(
                session_id, options={"idempotency_key": idempotency_key}
            ),
        )
        return _session_snapshot(session)


def _session_snapshot(session: Any) -> CheckoutSessionSnapshot:
    return checkout_session_snapshot(session.to_dict(), request_id=request_id_of(session))
