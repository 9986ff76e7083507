"""The one place that imports `stripe`: a typed gateway over Stripe's API.

It owns the client, the pinned API version, timeouts, retries and idempotency options,
returns plain snapshots (never SDK objects) and turns `stripe.StripeError` into the
project's own errors with a human message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import stripe
from stripe._base_address import BaseAddresses
from stripe.params import (
    EventListParams,
    PaymentIntentCancelParams,
    PaymentIntentCaptureParams,
    PaymentIntentCreateParams,
    PaymentIntentIncrementAuthorizationParams,
    RefundCreateParams,
)

from dashboard.domain.stripe_mapping import RefundStatus
from dashboard.payments import errors
from dashboard.payments.charges import BalanceFacts, balance_facts, card_from, refund_details
from dashboard.payments.checkout_calls import CheckoutSessionCalls
from dashboard.payments.customer_calls import CustomerCalls
from dashboard.payments.dispute_calls import DisputeCalls
from dashboard.payments.event_list import (
    EVENTS_PAGE_SIZE,
    EventCursor,
    EventPage,
    NewestFirst,
    OldestFirst,
)
from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.sandbox_calls import SandboxCalls
from dashboard.payments.saved_cards import CardSaving, SavedCardCalls
from dashboard.payments.shared_tokens import SharedTokenCalls
from dashboard.payments.snapshots import (
    PaymentIntentSnapshot,
    RefundSnapshot,
    payment_intent_snapshot,
    request_id_of,
)
from dashboard.payments.subscription_calls import SubscriptionCalls

log = logging.getLogger(__name__)


class _NoRequestBodies(logging.Filter):
    """The SDK logs request and response bodies at DEBUG: client secrets, and in the
    sandbox card numbers. Those lines never leave, whatever level logging is set to."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


logging.getLogger("stripe").addFilter(_NoRequestBodies())

# Pinned: a Stripe API upgrade is a code change with its own tests, never a surprise.
API_VERSION = "2026-10-28.endive"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_NETWORK_RETRIES = 2
# The latest charge with its balance transaction (fee and net), wherever a PaymentIntent is
# read: what the order page shows comes with answers the dashboard asks for anyway.
CHARGE_WITH_BALANCE = "latest_charge.balance_transaction"


@dataclass
class StripeGateway(
    CheckoutSessionCalls,
    DisputeCalls,
    SavedCardCalls,
    CustomerCalls,
    SandboxCalls,
    SharedTokenCalls,
    SubscriptionCalls,
):
    """Stripe's API for one merchant account. `compat` is set only for localstripe."""

    secret_key: str
    api_base: str = ""
    http_client: Any = None
    compat: LocalstripeCompat | None = None
    max_network_retries: int = MAX_NETWORK_RETRIES
    _client: stripe.StripeClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.secret_key:
            raise errors.StripeConfigurationError(
                "No Stripe secret key is configured (STRIPE_SECRET_KEY)."
            )
        base_addresses: BaseAddresses = {}
        if self.api_base:
            base_addresses = {"api": self.api_base}
        self._client = stripe.StripeClient(
            self.secret_key,
            stripe_version=API_VERSION,
            base_addresses=base_addresses,
            max_network_retries=self.max_network_retries,
            http_client=self.http_client
            or stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)),
        )

    # -- PaymentIntents ---------------------------------------------------------------

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        order_id: int,
        idempotency_key: str,
        payment_method: str | None = None,
        confirm: bool = False,
        description: str | None = None,
        card_requests: dict[str, str] | None = None,
        saving: CardSaving | None = None,
        off_session: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> PaymentIntentSnapshot:
        """`saving`: keep the card for off-session use (the buyer agreed); `off_session`:
        charge a saved card with the buyer away (re-authorizing, with `confirm`)."""
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": "manual",
            "metadata": {**(metadata or {}), "order_id": str(order_id)},
        }
        if card_requests:
            params["payment_method_options"] = {"card": dict(card_requests)}  # type: ignore[typeddict-item]
        if description:
            params["description"] = description
        if payment_method:
            params["payment_method"] = payment_method
        if confirm:
            params["confirm"] = True
        if saving is not None:
            params["customer"] = saving.customer_id
            if saving.keep:
                params["setup_future_usage"] = "off_session"
        if off_session:
            params["off_session"] = True
        asked = dict(params)
        params = self._compat_params("payment_intents.create", params)
        try:
            intent = self._call(
                "create payment intent",
                lambda: self._client.v1.payment_intents.create(
                    params=params, options={"idempotency_key": idempotency_key}
                ),
            )
        except errors.CardDeclined as declined:
            if self.compat is not None and payment_method and declined.attempt is not None:
                # localstripe's decline names no card; its payment method does.
                card = self._sandbox_card(payment_method)
                if card is not None:
                    declined.attempt = replace(declined.attempt, card=card_from(card))
            raise
        if self.compat is not None:
            self.compat.after_create(asked, intent.to_dict(), self._sandbox_attach)
        return self._snapshot(intent)

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentSnapshot:
        intent = self._call(
            "read payment intent",
            lambda: self._client.v1.payment_intents.retrieve(
                payment_intent_id, params={"expand": [CHARGE_WITH_BALANCE]}
            ),
        )
        return self._snapshot(intent)

    def capture_payment_intent(
        self,
        payment_intent_id: str,
        *,
        amount: int,
        idempotency_key: str,
        final_capture: bool = True,
    ) -> PaymentIntentSnapshot:
        params: PaymentIntentCaptureParams = {
            "amount_to_capture": amount,
            "expand": [CHARGE_WITH_BALANCE],
        }
        if not final_capture:  # multicapture: the rest stays held
            params["final_capture"] = False
        params = self._compat_params("payment_intents.capture", params)
        intent = self._call(
            "capture",
            lambda: self._client.v1.payment_intents.capture(
                payment_intent_id, params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return self._snapshot(intent)

    def cancel_payment_intent(
        self, payment_intent_id: str, *, reason: str | None, idempotency_key: str
    ) -> PaymentIntentSnapshot:
        params: PaymentIntentCancelParams = {"expand": ["latest_charge"]}
        if reason:  # none when releasing the rest after multicapture's partial captures
            params["cancellation_reason"] = reason
        params = self._compat_params("payment_intents.cancel", params)
        intent = self._call(
            "void",
            lambda: self._client.v1.payment_intents.cancel(
                payment_intent_id, params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return self._snapshot(intent)

    def increment_authorization(
        self, payment_intent_id: str, *, amount: int, idempotency_key: str
    ) -> PaymentIntentSnapshot:
        """A larger hold: `amount` is the new total; a decline leaves the old hold."""
        params: PaymentIntentIncrementAuthorizationParams = {"amount": amount}
        params = self._compat_params("payment_intents.increment_authorization", params)
        intent = self._call(
            "increment authorization",
            lambda: self._client.v1.payment_intents.increment_authorization(
                payment_intent_id,
                params={**params, "expand": [CHARGE_WITH_BALANCE]},
                options={"idempotency_key": idempotency_key},
            ),
        )
        return self._snapshot(intent)

    def create_refund(
        self,
        payment_intent_id: str,
        *,
        amount: int,
        reason: str,
        order_id: int,
        idempotency_key: str,
    ) -> RefundSnapshot:
        params: RefundCreateParams = {
            "payment_intent": payment_intent_id,
            "amount": amount,
            "reason": reason,
            # The key in metadata lets a lost answer be found again (find_refund).
            "metadata": {"order_id": str(order_id), "idempotency_key": idempotency_key},
            "expand": ["balance_transaction"],
        }
        params = self._compat_params("refunds.create", params)
        refund = self._call(
            "refund",
            lambda: self._client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return _refund_snapshot(refund.to_dict(), request_id_of(refund))

    def find_refund(self, payment_intent_id: str, idempotency_key: str) -> RefundSnapshot | None:
        """Our refund made with this key, if Stripe has it (the newest 100 are searched)."""
        refunds = self._call(
            "read refunds",
            lambda: self._client.v1.refunds.list(
                params={
                    "payment_intent": payment_intent_id,
                    "limit": 100,
                    "expand": ["data.balance_transaction"],
                }
            ),
        )
        for refund in refunds.data:
            raw = refund.to_dict()
            if (raw.get("metadata") or {}).get("idempotency_key") == idempotency_key:
                return _refund_snapshot(raw, request_id_of(refunds))
        return None

    def retrieve_balance_transaction(self, balance_transaction_id: str) -> BalanceFacts | None:
        """What a capture or refund did to the balance (fee, net), once Stripe has it."""
        answer = self._call(
            "read balance transaction",
            lambda: self._client.v1.balance_transactions.retrieve(balance_transaction_id),
        )
        return balance_facts(answer.to_dict())

    # -- Events -----------------------------------------------------------------------

    def list_events(
        self,
        *,
        after: EventCursor | None = None,
        since: datetime | None = None,
        page_size: int = EVENTS_PAGE_SIZE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Stripe's events after `after` (or created at or after `since`), oldest first, a
        page at a time (see `payments.event_list`)."""
        oldest_first = self.compat is not None and self.compat.events_oldest_first
        reader = OldestFirst(self._event_page) if oldest_first else NewestFirst(self._event_page)
        return reader.read(after=after, since=since, page_size=page_size)

    def _event_page(self, params: EventListParams) -> EventPage:
        """One page of `GET /v1/events`, as the JSON Stripe sent: the sync stores events as
        dicts, and building the SDK's objects for them cost more than storing them."""
        answer = self._call(
            "read events", lambda: self._client.raw_request("get", "/v1/events", **params)
        )
        body = answer.data if isinstance(answer.data, dict) else {}
        events = body.get("data")
        if (
            body.get("object") != "list"
            or not isinstance(events, list)
            or not all(isinstance(event, dict) for event in events)
        ):
            raise errors.PaymentError(
                "Stripe's event list answered with something that is not a list of events.",
                code="unexpected_answer",
            )
        return EventPage([dict(event) for event in events], bool(body.get("has_more")))

    # -- internals --------------------------------------------------------------------

    def _compat_params(self, operation: str, params: Any) -> Any:
        return self.compat.params(operation, params) if self.compat else params

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except stripe.StripeError as error:
            raise errors.from_stripe(what, error) from error

    def _snapshot(self, intent: Any) -> PaymentIntentSnapshot:
        raw: dict[str, Any] = intent.to_dict()
        if self.compat is not None:
            raw = self.compat.payment_intent(raw, card=self._sandbox_card)
        return payment_intent_snapshot(raw, request_id=request_id_of(intent))


def _refund_snapshot(raw: dict[str, Any], request_id: str | None) -> RefundSnapshot:
    return RefundSnapshot(
        id=str(raw["id"]),
        amount=int(raw["amount"]),
        status=str(raw.get("status") or RefundStatus.PENDING),
        request_id=request_id,
        details=refund_details(raw),
    )
