"""The gateway's calls for cards kept for later: a Stripe Customer per buyer, a payment the
buyer agreed to save, and finding a re-authorization whose answer was lost.

Mixed into `StripeGateway`, whose client, compat flag and error translation these use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from stripe.params import PaymentIntentListParams, PaymentIntentUpdateParams

from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.snapshots import PaymentIntentSnapshot

# Our re-authorizations carry their idempotency key in metadata under this name, so a
# lost answer can be found again among the customer's PaymentIntents.
KEY_METADATA = "idempotency_key"
# Real Stripe lists a customer's PaymentIntents newest first: a lost answer is among the
# first page. localstripe cannot filter by customer, so the sandbox reads further.
FIND_PAGE_SIZE = 100


@dataclass(frozen=True)
class CardSaving:
    """The payment is made for this Stripe Customer; `keep`: the buyer agreed to keep the
    card for later (`setup_future_usage=off_session`)."""

    customer_id: str
    keep: bool = True


class SavedCardCalls:
    """Customers, saving a card on an open payment, and re-reading a re-authorization."""

    compat: LocalstripeCompat | None
    _client: stripe.StripeClient

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def _snapshot(self, intent: Any) -> PaymentIntentSnapshot:
        raise NotImplementedError

    def _compat_params(self, operation: str, params: Any) -> Any:
        raise NotImplementedError

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentSnapshot:
        raise NotImplementedError

    def create_customer(self, email: str, *, idempotency_key: str) -> str:
        """A new Stripe Customer for a buyer email; the key is derived from the email, so
        two pay pages asking at once get the same one."""
        customer = self._call(
            "create customer",
            lambda: self._client.v1.customers.create(
                params={"email": email}, options={"idempotency_key": idempotency_key}
            ),
        )
        return str(customer.id)

    def set_card_saving(
        self, payment_intent_id: str, saving: CardSaving | None
    ) -> PaymentIntentSnapshot:
        """An open PaymentIntent (not yet confirmed) told whether to keep the card: the
        buyer ticks or unticks the box after it was made."""
        params: PaymentIntentUpdateParams = {"setup_future_usage": ""}
        if saving is not None:
            params["customer"] = saving.customer_id
            if saving.keep:
                params["setup_future_usage"] = "off_session"
        params = self._compat_params("payment_intents.update", params)
        intent = self._call(
            "update payment intent",
            lambda: self._client.v1.payment_intents.update(payment_intent_id, params=params),
        )
        return self._snapshot(intent)

    def find_payment_intent(
        self, customer_id: str, idempotency_key: str
    ) -> PaymentIntentSnapshot | None:
        """Our PaymentIntent made with this key for the customer, if Stripe has it."""
        params: PaymentIntentListParams = {"customer": customer_id, "limit": FIND_PAGE_SIZE}
        params = self._compat_params("payment_intents.list", params)
        answer = self._call(
            "read payment intents",
            lambda: self._client.v1.payment_intents.list(params=params),
        )
        pages = answer.auto_paging_iter() if self.compat is not None else answer.data
        for intent in pages:
            raw = intent.to_dict()
            if raw.get("customer") != customer_id:
                continue
            if (raw.get("metadata") or {}).get(KEY_METADATA) == idempotency_key:
                # Read again with its charge: the hold's deadline is on the charge.
                return self.retrieve_payment_intent(str(raw["id"]))
        return None

    def _sandbox_attach(self, payment_method_id: str, customer_id: str) -> None:
        """Attach a payment method to a customer (what Stripe does itself on saving)."""
        self._call(
            "attach payment method",
            lambda: self._client.v1.payment_methods.attach(
                payment_method_id, params={"customer": customer_id}
            ),
        )
