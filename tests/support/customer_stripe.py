"""Stripe where localstripe cannot serve the customers' calls (Checkout in setup mode,
payment method domains), at the SDK's HTTP boundary, on top of the shared double."""

from __future__ import annotations

import time
from typing import Any

from tests.support.stripe import Call, FakeStripeHTTP


def card_method(method_id: str, customer: str | None, **card: Any) -> dict[str, Any]:
    """A card PaymentMethod as Stripe answers with it (and as its events carry it)."""
    return {
        "id": method_id,
        "object": "payment_method",
        "type": "card",
        "customer": customer,
        "created": int(time.time()),
        "livemode": False,
        "metadata": {},
        "card": {
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2031,
            "funding": "credit",
            "country": "US",
            "wallet": None,
            **card,
        },
    }


class CustomerStripeHTTP(FakeStripeHTTP):
    def __init__(self) -> None:
        super().__init__()
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.methods: dict[str, dict[str, Any]] = {}
        # What the Payment Method Domains API answers for a domain's wallets.
        self.domain_status = {"apple_pay": "active", "google_pay": "active"}

    def _routes(self):
        return [
            (r"POST /v1/payment_method_domains", self._create_domain),
            (r"GET /v1/setup_intents/([^/]+)", self._get_setup_intent),
            (r"GET /v1/payment_methods/([^/]+)", self._get_method),
            *super()._routes(),
        ]

    def buyer_completes_setup(self, session_id: str, **card: Any) -> str:
        """The buyer saved a card on Stripe's page: the session's SetupIntent succeeded."""
        session = self.sessions[session_id]
        method_id = f"pm_test_{len(self.methods) + 1}"
        self.methods[method_id] = card_method(method_id, session["customer"], **card)
        intent_id = f"seti_test_{len(self.setup_intents) + 1}"
        self.setup_intents[intent_id] = {
            "id": intent_id,
            "object": "setup_intent",
            "status": "succeeded",
            "usage": "off_session",
            "customer": session["customer"],
            "payment_method": method_id,
            "client_secret": f"{intent_id}_secret_x",
            "metadata": dict(session["setup_intent_metadata"]),
        }
        session.update(status="complete", setup_intent=intent_id)
        return method_id

    def _create_session(self, call: Call):
        form = {key: values[-1] for key, values in call.form.items()}
        if form.get("mode") != "setup":
            return super()._create_session(call)
        session_id = f"cs_test_setup_{next(self._ids):04d}"
        metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        intent_metadata = {
            k[len("setup_intent_data[metadata][") : -1]: v
            for k, v in form.items()
            if k.startswith("setup_intent_data[metadata][")
        }
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "setup",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "status": "open",
            "customer": form["customer"],
            "currency": form.get("currency"),
            "setup_intent": None,
            "metadata": metadata,
            "setup_intent_metadata": intent_metadata,
            "success_url": form["success_url"],
            "cancel_url": form["cancel_url"],
        }
        self.sessions[session_id] = session
        return self._answer(session)

    def _get_setup_intent(self, call: Call, intent_id: str):
        if intent_id not in self.setup_intents:
            return self._missing(f"No such setupintent: '{intent_id}'")
        return self._answer(self.setup_intents[intent_id])

    def _get_method(self, call: Call, method_id: str):
        if method_id not in self.methods:
            return self._missing(f"No such PaymentMethod: '{method_id}'")
        return self._answer(self.methods[method_id])

    def _create_domain(self, call: Call):
        form = {key: values[-1] for key, values in call.form.items()}
        statuses = {
            wallet: {"status": status, "status_details": None}
            for wallet, status in self.domain_status.items()
        }
        return self._answer(
            {
                "id": f"pmd_test_{next(self._ids)}",
                "object": "payment_method_domain",
                "domain_name": form["domain_name"],
                "enabled": form.get("enabled") == "true",
                "livemode": False,
                **statuses,
            }
        )
