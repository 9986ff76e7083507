"""Subscriptions in tests: Stripe-shaped subscription and invoice objects (this API
version's shape: the period on the subscription's items, an invoice's subscription under
`parent`, its payment under `payments`), localstripe's own objects turned into what Stripe
would send, a renewal driven at localstripe, and the Stripe double's subscription routes."""

from __future__ import annotations

import contextlib
import itertools
import time
import urllib.error
from typing import Any

from flask import Flask

from tests.support.localstripe import localstripe
from tests.support.stripe import Call, FakeStripeHTTP

MONTH = 30 * 86400
_ids = itertools.count(1)


def subscription_object(
    sub_id: str,
    *,
    customer: str = "cus_test_sub",
    status: str = "active",
    period_start: int = 1_790_000_000,
    cancel_at_period_end: bool = False,
    price: str = "price_test_gold",
    latest_invoice: str | None = None,
    default_payment_method: str | None = None,
) -> dict[str, Any]:
    """A subscription as Stripe sends it in this API version."""
    period_end = period_start + MONTH
    return {
        "id": sub_id,
        "object": "subscription",
        "billing_cycle_anchor": period_start,
        "cancel_at": period_end if cancel_at_period_end else None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": None if status != "canceled" else period_start + 10,
        "collection_method": "charge_automatically",
        "created": period_start,
        "currency": "usd",
        "customer": customer,
        "default_payment_method": default_payment_method,
        "ended_at": None if status != "canceled" else period_start + 10,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "current_period_start": period_start,
                    "current_period_end": period_end,
                    "price": {"id": price, "object": "price", "unit_amount": 1500},
                    "quantity": 1,
                    "subscription": sub_id,
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": latest_invoice,
        "livemode": False,
        "metadata": {},
        "start_date": period_start,
        "status": status,
        "trial_end": None,
        "trial_start": None,
    }


def invoice_object(
    invoice_id: str,
    sub_id: str,
    *,
    customer: str = "cus_test_sub",
    status: str = "open",
    amount: int = 1500,
    billing_reason: str = "subscription_cycle",
    period_start: int = 1_790_000_000,
    attempt_count: int = 1,
    payment_intent: str | None = None,
    number: str | None = None,
) -> dict[str, Any]:
    """An invoice of a subscription as Stripe sends it in this API version."""
    paid = status == "paid"
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": attempt_count,
        "attempted": attempt_count > 0,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "currency": "usd",
        "customer": customer,
        "livemode": False,
        "number": number or f"INV-{invoice_id[-6:].upper()}",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id, "metadata": {}},
        },
        "payments": {
            "object": "list",
            "data": [
                {
                    "object": "invoice_payment",
                    "payment": {"type": "payment_intent", "payment_intent": payment_intent},
                    "status": "paid" if paid else "open",
                }
            ]
            if payment_intent
            else [],
        },
        "period_start": period_start,
        "period_end": period_start + MONTH,
        "status": status,
        "status_transitions": {
            "finalized_at": period_start,
            "paid_at": period_start + 60 if paid else None,
        },
        "total": amount,
    }


def as_stripe_sends(raw: dict[str, Any], *, billing_reason: str) -> dict[str, Any]:
    """localstripe's invoice as Stripe sends it: a number, the billing reason, its payment
    under `payments` (localstripe leaves the first two out)."""
    sent = invoice_object(
        raw["id"],
        raw["subscription"],
        customer=raw["customer"],
        status=raw["status"],
        amount=raw["amount_due"],
        billing_reason=billing_reason,
        period_start=raw["period_start"],
        attempt_count=raw.get("attempt_count") or 1,
        payment_intent=raw.get("payment_intent"),
    )
    charge = raw.get("charge")
    if isinstance(charge, dict) and charge.get("failure_message"):
        sent["charge"] = {"id": charge["id"], "failure_message": charge["failure_message"]}
    return sent


def renew_at_localstripe(url: str, subscription_id: str, customer_id: str) -> dict[str, Any]:
    """What Stripe does at the end of a period: the next invoice made and charged to the
    customer's default card. localstripe cannot advance time; it makes the invoice and
    charges it when asked. The invoice as localstripe has it afterwards."""
    made = localstripe(
        url, "/v1/invoices", {"customer": customer_id, "subscription": subscription_id}
    )
    # A declined card leaves the invoice open (localstripe may also answer 402).
    with contextlib.suppress(urllib.error.HTTPError):
        localstripe(url, f"/v1/invoices/{made['id']}/pay", {})
    result: dict[str, Any] = localstripe(url, f"/v1/invoices/{made['id']}")
    return result


def set_default_card(url: str, customer_id: str, card_number: str) -> str:
    """The buyer's card changes (as in the portal): a new default card for invoices."""
    method = localstripe(
        url,
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": card_number,
            "card[exp_month]": 12,
            "card[exp_year]": 2031,
            "card[cvc]": "123",
        },
    )
    localstripe(url, f"/v1/payment_methods/{method['id']}/attach", {"customer": customer_id})
    localstripe(
        url,
        f"/v1/customers/{customer_id}",
        {"invoice_settings[default_payment_method]": method["id"]},
    )
    return str(method["id"])


def subscribe_token(app: Flask, plan_id: int, email: str, name: str = "") -> str:
    from dashboard.services.subscriptions import links

    with app.test_request_context():
        return links.subscribe_url(plan_id, email, name).rsplit("/", 1)[1]


# -- the Stripe double's subscription routes ---------------------------------------------


class SubscriptionStripeHTTP(FakeStripeHTTP):
    """The Stripe double, also answering products, prices, subscription-mode Checkout, the
    billing portal and canceling, as Stripe's API reference shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: dict[str, dict[str, Any]] = {}

    def _routes(self):
        return [
            (r"POST /v1/products", self._create_product),
            (r"POST /v1/prices", self._create_price),
            (r"POST /v1/prices/([^/]+)", self._update_price),
            (r"POST /v1/checkout/sessions", self._create_subscription_session),
            (r"GET /v1/checkout/sessions/(cs_test_sub_[^/]+)", self._get_subscription_session),
            (r"POST /v1/billing_portal/sessions", self._create_portal),
            (r"POST /v1/subscriptions/([^/]+)", self._update_subscription),
            (r"DELETE /v1/subscriptions/([^/]+)", self._cancel_subscription),
            *super()._routes(),
        ]

    def _form(self, call: Call) -> dict[str, str]:
        return {key: values[-1] for key, values in call.form.items()}

    def _create_product(self, call: Call):
        form = self._form(call)
        return self._answer(
            {"id": f"prod_test_{next(_ids)}", "object": "product", "name": form["name"]}, 200
        )

    def _create_price(self, call: Call):
        form = self._form(call)
        return self._answer(
            {
                "id": f"price_test_{next(_ids)}",
                "object": "price",
                "active": True,
                "currency": form["currency"],
                "product": form["product"],
                "recurring": {
                    "interval": form["recurring[interval]"],
                    "interval_count": int(form["recurring[interval_count]"]),
                },
                "type": "recurring",
                "unit_amount": int(form["unit_amount"]),
            },
            200,
        )

    def _update_price(self, call: Call, price_id: str):
        active = self._form(call).get("active") != "false"
        return self._answer({"id": price_id, "object": "price", "active": active}, 200)

    def _create_subscription_session(self, call: Call):
        session_id = f"cs_test_sub_{next(_ids)}"
        form = self._form(call)
        self.sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "status": "open",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "customer": form.get("customer"),
            "metadata": {"plan_id": form.get("metadata[plan_id]")},
            "subscription": None,
        }
        return self._answer(self.sessions[session_id], 200)

    def complete_subscription(self, session_id: str, subscription: dict[str, Any]) -> None:
        """The buyer paid on Checkout: the session is complete and made `subscription`."""
        self.subscriptions[subscription["id"]] = subscription
        self.sessions[session_id].update(
            status="complete", url=None, subscription=subscription["id"]
        )

    def _get_subscription_session(self, call: Call, session_id: str):
        if session_id not in self.sessions:
            return self._missing(f"No such checkout.session: '{session_id}'")
        session = dict(self.sessions[session_id])
        made = session.get("subscription")
        if made is not None and "subscription" in self._expand(call):
            session["subscription"] = self.subscriptions[made]
        return self._answer(session)

    def _create_portal(self, call: Call):
        portal_id = f"bps_test_{next(_ids)}"
        return self._answer(
            {
                "id": portal_id,
                "object": "billing_portal.session",
                "customer": self._form(call)["customer"],
                "return_url": self._form(call)["return_url"],
                "url": f"https://billing.stripe.com/p/session/{portal_id}",
            },
            200,
        )

    def _update_subscription(self, call: Call, sub_id: str):
        sub = self.subscriptions[sub_id]
        if self._form(call).get("cancel_at_period_end") == "true":
            sub["cancel_at_period_end"] = True
        return self._answer(sub, 200)

    def _cancel_subscription(self, call: Call, sub_id: str):
        sub = self.subscriptions[sub_id]
        sub.update(status="canceled", ended_at=int(time.time()), canceled_at=int(time.time()))
        return self._answer(sub, 200)
