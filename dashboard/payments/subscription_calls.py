"""The gateway's calls for subscriptions: a plan (a product and its recurring price), a
buyer subscribing (Checkout `mode=subscription`; in the sandbox a subscription made with a
test card, since localstripe has no Checkout), reading a subscription and its invoices,
canceling (now, or at the end of the period), and the billing portal.

localstripe knows plans but not prices: in the sandbox the recurring price is made as a
plan (on real Stripe a plan's id is a price id, so nothing else differs).

Mixed into `StripeGateway`, whose client, compat flag and error translation these use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from stripe.params import PriceCreateParams, SubscriptionUpdateParams
from stripe.params.billing_portal import SessionCreateParams as PortalSessionCreateParams
from stripe.params.checkout import SessionCreateParams

from dashboard.payments import errors
from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.subscription_snapshots import (
    InvoiceSnapshot,
    SubscriptionSnapshot,
    invoice_snapshot,
    subscription_snapshot,
)

NO_CHECKOUT = (
    "Stripe Checkout is not available in the sandbox: localstripe has no Checkout Sessions. "
    "Subscribe with a test card instead."
)
NO_PORTAL = "Stripe's customer portal is not available in the sandbox: localstripe has none."
INVOICES_PAGE = 24


@dataclass(frozen=True)
class PlanIds:
    product_id: str
    price_id: str


@dataclass(frozen=True)
class HostedPage:
    id: str
    url: str


@dataclass(frozen=True)
class SubscriptionCheckout:
    """A Checkout Session as the buyer left it: whose, for which of our plans, and the
    subscription it made (once complete)."""

    id: str
    mode: str
    status: str  # open, complete or expired
    customer_id: str | None
    plan_id: str | None  # our metadata
    subscription: SubscriptionSnapshot | None


class SubscriptionCalls:
    """Plans, subscribing, reading, canceling, the billing portal."""

    compat: LocalstripeCompat | None
    _client: stripe.StripeClient

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def create_plan(
        self,
        *,
        name: str,
        amount: int,
        currency: str,
        interval: str,
        interval_count: int,
        idempotency_key: str,
    ) -> PlanIds:
        """A product and its recurring price; each call keyed, so a retry makes neither twice."""
        product = self._call(
            "create product",
            lambda: self._client.v1.products.create(
                params={"name": name},
                options={"idempotency_key": f"{idempotency_key}-product"},
            ),
        )
        if self.compat is not None:
            price = self._call(
                "create sandbox plan",
                lambda: self._client.v1.plans.create(
                    params={
                        "product": str(product.id),
                        "amount": amount,
                        "currency": currency.lower(),
                        "interval": interval,
                        "interval_count": interval_count,
                    }
                ),
            )
            return PlanIds(str(product.id), str(price.id))
        params: PriceCreateParams = {
            "product": str(product.id),
            "unit_amount": amount,
            "currency": currency.lower(),
            "recurring": {"interval": interval, "interval_count": interval_count},
        }
        price = self._call(
            "create price",
            lambda: self._client.v1.prices.create(
                params=params, options={"idempotency_key": f"{idempotency_key}-price"}
            ),
        )
        return PlanIds(str(product.id), str(price.id))

    def deactivate_plan(self, ids: PlanIds) -> None:
        """No new subscriptions to the price; those running go on."""
        if self.compat is not None:
            self._call(
                "deactivate sandbox plan",
                lambda: self._client.v1.plans.update(ids.price_id, params={"active": False}),
            )
            return
        self._call(
            "deactivate price",
            lambda: self._client.v1.prices.update(ids.price_id, params={"active": False}),
        )

    def create_subscription_checkout(
        self,
        *,
        price_id: str,
        customer_id: str,
        plan_id: int,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> HostedPage:
        if self.compat is not None:
            raise errors.SandboxOnly(NO_CHECKOUT)
        params: SessionCreateParams = {
            "mode": "subscription",
            "customer": customer_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "metadata": {"plan_id": str(plan_id)},
            "subscription_data": {"metadata": {"plan_id": str(plan_id)}},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = self._call(
            "create subscription checkout",
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return HostedPage(str(session.id), str(session.url))

    def retrieve_subscription_checkout(self, session_id: str) -> SubscriptionCheckout:
        """The session with its subscription expanded (one call): what the buyer did."""
        if self.compat is not None:
            raise errors.SandboxOnly(NO_CHECKOUT)
        session = self._call(
            "read subscription checkout",
            lambda: self._client.v1.checkout.sessions.retrieve(
                session_id, params={"expand": ["subscription"]}
            ),
        )
        raw = session.to_dict()
        made = raw.get("subscription")
        metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        try:
            subscription = subscription_snapshot(made) if isinstance(made, dict) else None
        except ValueError as error:
            raise errors.PaymentError(
                "Stripe's Checkout Session named a subscription that is not one.",
                code="unexpected_answer",
            ) from error
        customer = raw.get("customer")
        return SubscriptionCheckout(
            id=str(raw.get("id") or ""),
            mode=str(raw.get("mode") or ""),
            status=str(raw.get("status") or ""),
            customer_id=customer if isinstance(customer, str) else None,
            plan_id=str(metadata["plan_id"]) if metadata and "plan_id" in metadata else None,
            subscription=subscription,
        )

    def create_billing_portal(self, *, customer_id: str, return_url: str) -> HostedPage:
        if self.compat is not None:
            raise errors.SandboxOnly(NO_PORTAL)
        params: PortalSessionCreateParams = {"customer": customer_id, "return_url": return_url}
        session = self._call(
            "create billing portal session",
            lambda: self._client.v1.billing_portal.sessions.create(params=params),
        )
        return HostedPage(str(session.id), str(session.url))

    def sandbox_subscribe(
        self, *, customer_id: str, price_id: str, payment_method: str, plan_id: int
    ) -> SubscriptionSnapshot:
        """The sandbox's stand-in for Checkout: the card becomes the customer's default
        and the subscription is made with it (localstripe takes plans in its items)."""
        if self.compat is None:
            raise errors.SandboxOnly("Buyers subscribe on Stripe Checkout.")
        self._call(
            "attach payment method",
            lambda: self._client.v1.payment_methods.attach(
                payment_method, params={"customer": customer_id}
            ),
        )
        self._call(
            "set default payment method",
            lambda: self._client.v1.customers.update(
                customer_id, params={"invoice_settings": {"default_payment_method": payment_method}}
            ),
        )
        subscription = self._call(
            "create subscription",
            lambda: self._client.v1.subscriptions.create(
                params={
                    "customer": customer_id,
                    "items": [{"plan": price_id}],
                    "metadata": {"plan_id": str(plan_id)},
                }
            ),
        )
        return self._subscription(subscription)

    def retrieve_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        return self._subscription(
            self._call(
                "read subscription",
                lambda: self._client.v1.subscriptions.retrieve(subscription_id),
            )
        )

    def list_subscription_invoices(self, subscription_id: str) -> list[InvoiceSnapshot]:
        answer = self._call(
            "read invoices",
            lambda: self._client.v1.invoices.list(
                params={"subscription": subscription_id, "limit": INVOICES_PAGE}
            ),
        )
        return [invoice_snapshot(invoice.to_dict()) for invoice in answer.data]

    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool, idempotency_key: str
    ) -> SubscriptionSnapshot:
        """Now (Stripe ends it at once), or at the end of the period it has paid for."""
        if at_period_end:
            params: SubscriptionUpdateParams = {"cancel_at_period_end": True}
            answer = self._call(
                "cancel subscription at period end",
                lambda: self._client.v1.subscriptions.update(
                    subscription_id, params=params, options={"idempotency_key": idempotency_key}
                ),
            )
        else:
            answer = self._call(
                "cancel subscription",
                lambda: self._client.v1.subscriptions.cancel(
                    subscription_id, options={"idempotency_key": idempotency_key}
                ),
            )
        return self._subscription(answer)

    def _subscription(self, answer: Any) -> SubscriptionSnapshot:
        return subscription_snapshot(answer.to_dict())
