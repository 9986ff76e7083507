"""The gateway's calls for customers and their cards: saving a card without paying (a
SetupIntent on our page, or Checkout in setup mode), reading and detaching a payment
method, and registering a domain for Apple Pay and Google Pay.

Mixed into `StripeGateway`, whose client, compat flag and error translation these use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import stripe
from stripe.params import SetupIntentCreateParams
from stripe.params.checkout import SessionCreateParams

from dashboard.payments import errors
from dashboard.payments import stripe_values as v
from dashboard.payments.charges import Card, card_from
from dashboard.payments.localstripe_compat import LocalstripeCompat


@dataclass(frozen=True)
class SetupIntentSnapshot:
    id: str
    status: str  # requires_payment_method, requires_action, succeeded, canceled, ...
    customer_id: str | None
    payment_method_id: str | None
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentMethodSnapshot:
    id: str
    customer_id: str | None
    type: str | None
    card: Card | None


@dataclass(frozen=True)
class SetupSessionSnapshot:
    """A Checkout Session in setup mode: where to send the buyer, and what it saved."""

    id: str
    url: str | None
    status: str | None
    customer_id: str | None
    setup_intent_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)


def setup_intent_snapshot(raw: dict[str, Any]) -> SetupIntentSnapshot:
    method = raw.get("payment_method")
    if isinstance(method, dict):
        method = method.get("id")
    customer = raw.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return SetupIntentSnapshot(
        id=str(raw["id"]),
        status=str(raw.get("status") or ""),
        customer_id=str(customer) if customer else None,
        payment_method_id=str(method) if method else None,
        client_secret=raw.get("client_secret") or None,
        metadata={str(k): str(val) for k, val in (raw.get("metadata") or {}).items()},
    )


def payment_method_snapshot(raw: dict[str, Any]) -> PaymentMethodSnapshot:
    card = raw.get("card")
    customer = raw.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return PaymentMethodSnapshot(
        id=str(raw["id"]),
        customer_id=str(customer) if customer else None,
        type=v.enum(raw.get("type")),
        card=card_from(card) if isinstance(card, dict) else None,
    )


class CustomerCalls:
    """SetupIntents, payment methods, Checkout in setup mode, payment method domains."""

    compat: LocalstripeCompat | None
    _client: stripe.StripeClient

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def create_setup_intent(
        self, *, customer_id: str, metadata: dict[str, str], idempotency_key: str
    ) -> SetupIntentSnapshot:
        """A SetupIntent saving a card for off-session use (new holds, renewals)."""
        params: SetupIntentCreateParams = {
            "customer": customer_id,
            "usage": "off_session",
            "metadata": metadata,
        }
        intent = self._call(
            "create setup intent",
            lambda: self._client.v1.setup_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return setup_intent_snapshot(intent.to_dict())

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntentSnapshot:
        intent = self._call(
            "read setup intent", lambda: self._client.v1.setup_intents.retrieve(setup_intent_id)
        )
        return setup_intent_snapshot(intent.to_dict())

    def sandbox_confirm_setup_intent(
        self, setup_intent_id: str, payment_method_id: str
    ) -> SetupIntentSnapshot:
        """The sandbox's card form: confirm the SetupIntent with a test card's method."""
        if self.compat is None:
            raise errors.SandboxOnly("The buyer confirms a SetupIntent with Stripe.js.")
        intent = self._call(
            "confirm setup intent",
            lambda: self._client.v1.setup_intents.confirm(
                setup_intent_id, params={"payment_method": payment_method_id}
            ),
        )
        confirmed = setup_intent_snapshot(intent.to_dict())
        if confirmed.status == "succeeded" and confirmed.customer_id:
            # Stripe attaches the card to the customer itself; localstripe does not.
            self._call(
                "attach payment method",
                lambda: self._client.v1.payment_methods.attach(
                    payment_method_id, params={"customer": confirmed.customer_id or ""}
                ),
            )
        return confirmed

    def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethodSnapshot:
        method = self._call(
            "read payment method",
            lambda: self._client.v1.payment_methods.retrieve(payment_method_id),
        )
        return payment_method_snapshot(method.to_dict())

    def detach_payment_method(self, payment_method_id: str) -> PaymentMethodSnapshot:
        """Remove a saved card from its customer: it can no longer be charged."""
        method = self._call(
            "detach payment method",
            lambda: self._client.v1.payment_methods.detach(payment_method_id),
        )
        return payment_method_snapshot(method.to_dict())

    def create_setup_session(
        self,
        *,
        customer_id: str,
        currency: str,
        success_url: str,
        cancel_url: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> SetupSessionSnapshot:
        """Checkout in setup mode: Stripe's page saves a card for the customer."""
        if self.compat is not None:
            raise errors.SandboxOnly(
                "Stripe Checkout is not available in the sandbox: localstripe has no "
                "Checkout Sessions. Use the card form."
            )
        params: SessionCreateParams = {
            "mode": "setup",
            "customer": customer_id,
            "currency": currency.lower(),
            "setup_intent_data": {"metadata": metadata},
            "metadata": metadata,
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = self._call(
            "create checkout session",
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return setup_session_snapshot(session.to_dict())

    def retrieve_setup_session(self, session_id: str) -> SetupSessionSnapshot:
        session = self._call(
            "read checkout session",
            lambda: self._client.v1.checkout.sessions.retrieve(session_id),
        )
        return setup_session_snapshot(session.to_dict())

    def register_payment_method_domain(self, domain: str) -> dict[str, str]:
        """Register a domain for wallets (Apple Pay, Google Pay, Link); each wallet's
        status as Stripe says it ("active", "inactive", ...)."""
        if self.compat is not None:
            raise errors.SandboxOnly("localstripe has no payment method domains.")
        answer = self._call(
            "register payment method domain",
            lambda: self._client.v1.payment_method_domains.create(
                params={"domain_name": domain, "enabled": True}
            ),
        ).to_dict()
        statuses = {"domain": str(answer.get("domain_name") or domain)}
        statuses["enabled"] = "yes" if answer.get("enabled") else "no"
        for wallet in ("apple_pay", "google_pay", "link", "paypal"):
            status = answer.get(wallet)
            if isinstance(status, dict) and status.get("status"):
                statuses[wallet] = str(status["status"])
                error = status.get("status_details", {}) or {}
                message = (error.get("error_message") or "") if isinstance(error, dict) else ""
                if message:
                    statuses[wallet] += f" ({message})"
        return statuses


def setup_session_snapshot(raw: dict[str, Any]) -> SetupSessionSnapshot:
    intent = raw.get("setup_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    customer = raw.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return SetupSessionSnapshot(
        id=str(raw["id"]),
        url=raw.get("url") or None,
        status=raw.get("status") or None,
        customer_id=str(customer) if customer else None,
        setup_intent_id=str(intent) if intent else None,
        metadata={str(k): str(val) for k, val in (raw.get("metadata") or {}).items()},
    )
