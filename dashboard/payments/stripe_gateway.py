"""The one place that imports `stripe`: a typed gateway over Stripe's API.

It owns the client, the pinned API version, timeouts, retries and idempotency options,
returns plain snapshots (never SDK objects) and turns `stripe.StripeError` into the
project's own errors with a human message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from stripe._base_address import BaseAddresses
from stripe.params import (
    EventListParams,
    PaymentIntentCancelParams,
    PaymentIntentCaptureParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
)
from stripe.params.checkout import SessionCreateParams

from dashboard.domain.stripe_mapping import Amounts
from dashboard.payments import errors
from dashboard.payments.localstripe_compat import LocalstripeCompat

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
# Online card authorizations last 7 days unless the charge says otherwise.
DEFAULT_HOLD = timedelta(days=7)
# `GET /v1/events` lists only the last 30 days; its largest page is 100 events.
EVENT_RETENTION = timedelta(days=30)
EVENTS_PAGE_SIZE = 100

DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds. Try another card.",
    "expired_card": "Your card has expired. Try another card.",
    "incorrect_cvc": "The card's security code is incorrect. Check it and try again.",
    "incorrect_number": "The card number is incorrect. Check it and try again.",
    "processing_error": "The card could not be processed. Try again in a moment.",
    "authentication_required": (
        "Your bank asked for verification. Try again and complete the verification step."
    ),
    "card_velocity_exceeded": "Your card has reached its limit. Try another card.",
}
GENERIC_DECLINE = "Your card was declined. Try another card or contact your bank."
REQUEST_MESSAGES = {
    "payment_intent_unexpected_state": (
        "Stripe says the payment is no longer in a state that allows this; "
        "it may have changed elsewhere. Refresh to see where it stands."
    ),
    "amount_too_large": "The amount is more than Stripe allows for this payment.",
    "charge_already_refunded": "This payment has already been refunded in full.",
    "charge_already_captured": "This hold has already been captured.",
    "charge_expired_for_capture": "The hold has expired and can no longer be captured.",
    "resource_missing": "Stripe does not know this payment (was it made with other keys?).",
}


@dataclass(frozen=True)
class PaymentIntentSnapshot:
    """What Stripe says about a PaymentIntent, in the shapes the services use."""

    id: str
    status: str
    currency: str
    amounts: Amounts
    client_secret: str | None
    charge_id: str | None
    created: datetime
    capture_before: datetime | None
    cancellation_reason: str | None
    last_error_code: str | None
    last_error_message: str | None
    livemode: bool
    metadata: dict[str, str]
    request_id: str | None = None

    @property
    def hold_deadline(self) -> datetime:
        return self.capture_before or self.created + DEFAULT_HOLD


@dataclass(frozen=True)
class RefundSnapshot:
    id: str
    amount: int
    status: str
    request_id: str | None = None


@dataclass(frozen=True)
class CheckoutSessionSnapshot:
    id: str
    status: str
    payment_status: str
    url: str | None
    payment_intent_id: str | None
    expires_at: datetime | None
    request_id: str | None = None


@dataclass(frozen=True)
class EventCursor:
    """A place in Stripe's event list: the last event read."""

    event_id: str
    created: datetime


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]  # as Stripe lists them: newest first
    has_more: bool


@dataclass
class StripeGateway:
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

    @property
    def is_sandbox(self) -> bool:
        return self.compat is not None

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
        return_url: str | None = None,
        description: str | None = None,
    ) -> PaymentIntentSnapshot:
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": "manual",
            "metadata": {"order_id": str(order_id)},
        }
        if description:
            params["description"] = description
        if payment_method:
            params["payment_method"] = payment_method
        if confirm:
            params["confirm"] = True
            if return_url:
                params["return_url"] = return_url
        params = self._compat_params("payment_intents.create", params)
        intent = self._call(
            "create payment intent",
            lambda: self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return self._snapshot(intent)

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentSnapshot:
        intent = self._call(
            "read payment intent",
            lambda: self._client.v1.payment_intents.retrieve(
                payment_intent_id, params={"expand": ["latest_charge"]}
            ),
        )
        return self._snapshot(intent)

    def capture_payment_intent(
        self, payment_intent_id: str, *, amount: int, idempotency_key: str
    ) -> PaymentIntentSnapshot:
        params: PaymentIntentCaptureParams = {
            "amount_to_capture": amount,
            "expand": ["latest_charge"],
        }
        params = self._compat_params("payment_intents.capture", params)
        intent = self._call(
            "capture",
            lambda: self._client.v1.payment_intents.capture(
                payment_intent_id, params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return self._snapshot(intent)

    def cancel_payment_intent(
        self, payment_intent_id: str, *, reason: str, idempotency_key: str
    ) -> PaymentIntentSnapshot:
        params: PaymentIntentCancelParams = {
            "cancellation_reason": reason,
            "expand": ["latest_charge"],
        }
        params = self._compat_params("payment_intents.cancel", params)
        intent = self._call(
            "void",
            lambda: self._client.v1.payment_intents.cancel(
                payment_intent_id, params=params, options={"idempotency_key": idempotency_key}
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
        }
        params = self._compat_params("refunds.create", params)
        refund = self._call(
            "refund",
            lambda: self._client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return RefundSnapshot(
            id=refund.id,
            amount=int(refund.amount),
            status=str(refund.status or "pending"),
            request_id=_request_id(refund),
        )

    def find_refund(self, payment_intent_id: str, idempotency_key: str) -> RefundSnapshot | None:
        """Our refund made with this key, if Stripe has it (the newest 100 are searched)."""
        refunds = self._call(
            "read refunds",
            lambda: self._client.v1.refunds.list(
                params={"payment_intent": payment_intent_id, "limit": 100}
            ),
        )
        for refund in refunds.data:
            metadata = refund.to_dict().get("metadata") or {}
            if metadata.get("idempotency_key") == idempotency_key:
                return RefundSnapshot(
                    id=refund.id,
                    amount=int(refund.amount),
                    status=str(refund.status or "pending"),
                    request_id=_request_id(refunds),
                )
        return None

    # -- Checkout Sessions ------------------------------------------------------------

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

    # -- Events -----------------------------------------------------------------------

    def list_events(
        self,
        *,
        after: EventCursor | None = None,
        since: datetime | None = None,
        page_size: int = EVENTS_PAGE_SIZE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Stripe's events after `after` (or created at or after `since`), oldest first.

        A page at a time, as plain dicts, so a reader can record its place after each page.
        Stripe lists newest first: `ending_before` pages towards newer events, and each page
        is reversed, which reads the whole list oldest first.
        """
        if (after is None) == (since is None):
            raise ValueError("list_events needs either `after` or `since`.")
        if self.compat is not None and self.compat.events_oldest_first:
            if after is not None:
                yield from self._events_oldest_first(after.created, after.event_id, page_size)
            elif since is not None:
                yield from self._events_oldest_first(since, None, page_size)
            return
        anchor = after.event_id if after is not None else None
        if since is not None:
            first, anchor = self._events_from(since, page_size)
            if first:
                yield first
        while anchor is not None:
            page = self._event_page({"ending_before": anchor, "limit": page_size})
            events = page.events[::-1]
            if not events:
                return
            yield events
            anchor = events[-1]["id"] if page.has_more else None

    def _events_from(
        self, since: datetime, page_size: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Where a read from `since` starts: the oldest events to yield first, and the id
        of the event to page on from (the newest one before `since`, or the newest of them).
        """
        start = int(since.timestamp())
        before = self._event_page({"created": {"lt": start}, "limit": 1})
        if before.events:
            return [], str(before.events[0]["id"])
        # Nothing older is listed (a first sync, as a rule): the oldest event is the last one
        # of a walk through the list, newest first.
        params: EventListParams = {"created": {"gte": start}, "limit": page_size}
        oldest: list[dict[str, Any]] = []
        while True:
            page = self._event_page(params)
            if page.events:
                oldest = page.events
            if not page.has_more or not page.events:
                break
            params["starting_after"] = str(page.events[-1]["id"])
        if not oldest:
            return [], None
        return oldest[::-1], str(oldest[0]["id"])

    def _events_oldest_first(
        self, start: datetime, after_id: str | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """localstripe's list: already oldest first, and without `ending_before`."""
        params: EventListParams = {"created": {"gte": int(start.timestamp())}, "limit": page_size}
        if after_id is not None:
            params["starting_after"] = after_id
        while True:
            page = self._event_page(params)
            events = page.events
            if events:
                yield events
            if not page.has_more or not events:
                return
            params["starting_after"] = str(events[-1]["id"])

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

    # -- Sandbox only -----------------------------------------------------------------

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

    # -- internals --------------------------------------------------------------------

    def _compat_params(self, operation: str, params: Any) -> Any:
        return self.compat.params(operation, params) if self.compat else params

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except stripe.StripeError as error:
            raise _translate(what, error) from error

    def _snapshot(self, intent: Any) -> PaymentIntentSnapshot:
        raw: dict[str, Any] = intent.to_dict()
        if self.compat is not None:
            raw = self.compat.payment_intent(raw)
        return payment_intent_snapshot(raw, request_id=_request_id(intent))


def payment_intent_snapshot(
    raw: dict[str, Any], request_id: str | None = None
) -> PaymentIntentSnapshot:
    """A PaymentIntent as Stripe serialises it (API response or event payload) -> snapshot."""
    charge = raw.get("latest_charge")
    charge = charge if isinstance(charge, dict) else None
    status = str(raw["status"])
    amount = int(raw["amount"])
    captured = raw.get("amount_received")
    if captured is None:
        captured = int(charge.get("amount_captured", 0)) if charge else 0
    # Stripe counts the part of a hold it released as refunded on the charge ("any
    # additional amount will be automatically refunded" on a partial capture; all of it on a
    # void): only what goes beyond the released part went back to the buyer.
    charged = int(charge.get("amount") or amount) if charge else amount
    released = charged - int(captured) if captured else charged
    reported = int(charge.get("amount_refunded") or 0) if charge else 0
    refunded = max(reported - released, 0)
    capturable = raw.get("amount_capturable")
    if capturable is None:
        capturable = amount if status == "requires_capture" else 0
    authorized = amount if status in ("requires_capture", "succeeded", "canceled") else 0
    capture_before = None
    if charge:
        card = (charge.get("payment_method_details") or {}).get("card") or {}
        if card.get("capture_before"):
            capture_before = datetime.fromtimestamp(int(card["capture_before"]), UTC)
    error = raw.get("last_payment_error") or {}
    return PaymentIntentSnapshot(
        id=str(raw["id"]),
        status=status,
        currency=str(raw.get("currency", "")).upper(),
        amounts=Amounts(
            authorized=authorized,
            capturable=int(capturable),
            captured=int(captured),
            refunded=refunded,
        ),
        client_secret=raw.get("client_secret"),
        charge_id=str(charge["id"]) if charge else _charge_id(raw.get("latest_charge")),
        created=datetime.fromtimestamp(int(raw.get("created") or 0), UTC),
        capture_before=capture_before,
        cancellation_reason=raw.get("cancellation_reason"),
        last_error_code=error.get("decline_code") or error.get("code"),
        last_error_message=error.get("message"),
        livemode=bool(raw.get("livemode", False)),
        metadata={str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
        request_id=request_id,
    )


def _charge_id(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _session_snapshot(session: Any) -> CheckoutSessionSnapshot:
    return checkout_session_snapshot(session.to_dict(), request_id=_request_id(session))


def checkout_session_snapshot(
    raw: dict[str, Any], request_id: str | None = None
) -> CheckoutSessionSnapshot:
    """A Checkout Session as Stripe serialises it (API response or event payload)."""
    intent = raw.get("payment_intent")
    expires = raw.get("expires_at")
    return CheckoutSessionSnapshot(
        id=str(raw["id"]),
        status=str(raw.get("status") or "open"),
        payment_status=str(raw.get("payment_status") or "unpaid"),
        url=raw.get("url"),
        payment_intent_id=intent["id"] if isinstance(intent, dict) else intent,
        expires_at=datetime.fromtimestamp(int(expires), UTC) if expires else None,
        request_id=request_id,
    )


def _request_id(obj: Any) -> str | None:
    response = getattr(obj, "last_response", None)
    return getattr(response, "request_id", None) if response is not None else None


def _translate(what: str, error: stripe.StripeError) -> errors.PaymentError:
    """Stripe's exception -> ours, with a message for a person and nothing secret."""
    code, status, request_id = error.code, error.http_status, error.request_id
    log.warning(
        "stripe %s failed: %s (%s)",
        what,
        type(error).__name__,
        error.code,
        extra={"stripe_request_id": error.request_id, "http_status": error.http_status},
    )
    if isinstance(error, stripe.CardError):
        body: dict[str, Any] = error.json_body if isinstance(error.json_body, dict) else {}
        decline = (body.get("error") or {}).get("decline_code") or code
        message = DECLINE_MESSAGES.get(str(decline), GENERIC_DECLINE)
        return errors.CardDeclined(
            message, code=str(decline), http_status=status, request_id=request_id
        )
    if isinstance(error, stripe.RateLimitError):
        return errors.RateLimited(
            "Stripe is receiving too many requests right now. Try again in a minute.",
            code=code,
            http_status=status,
            request_id=request_id,
        )
    if error.http_status == 409 or error.code == "idempotency_key_in_use":
        return errors.IdempotencyKeyInUse(
            f"The same {what} is still being processed by Stripe. "
            "Check again in a moment; it will not be done twice.",
            code=code,
            http_status=status,
            request_id=request_id,
        )
    if isinstance(error, stripe.APIConnectionError):
        return errors.OutcomeUnknown(
            f"No answer from Stripe for the {what}. It may or may not have happened; "
            "it is marked as awaiting confirmation and will be checked with Stripe.",
            code=code,
            http_status=status,
            request_id=request_id,
        )
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return errors.StripeConfigurationError(
            "Stripe refused our API key. An admin must check the Stripe settings.",
            code=code,
            http_status=status,
            request_id=request_id,
        )
    if isinstance(error, stripe.APIError) or (error.http_status or 0) >= 500:
        return errors.OutcomeUnknown(
            f"Stripe had an internal error during the {what}. It may or may not have "
            "happened; it is marked as awaiting confirmation and will be checked with Stripe.",
            code=code or errors.STRIPE_INTERNAL_ERROR,
            http_status=status,
            request_id=request_id,
        )
    if isinstance(error, stripe.IdempotencyError):
        return errors.InvalidRequest(
            f"Stripe refused the {what}: the same request key was used for different "
            "details. Nothing was done.",
            code=code,
            http_status=status,
            request_id=request_id,
        )
    message = REQUEST_MESSAGES.get(str(error.code), f"Stripe refused to {what}.")
    return errors.InvalidRequest(message, code=code, http_status=status, request_id=request_id)
