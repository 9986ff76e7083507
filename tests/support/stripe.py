"""Stripe without Stripe: its API as a double behind the SDK's HTTP client, the objects it
sends, and its webhooks, signed as it signs them.

Everything above the double stays real: the services, the gateway, the stripe SDK's
encoding, headers and error handling. The double answers with Stripe's own published
example objects (tests/fixtures/stripe, MIT, Stripe Inc.), changed only in the fields a case
needs, and records every request as (method, url, headers, post_data). The objects built
here for events follow the same rule, so the code under test sees the full shape (extra
fields, nulls, nested objects) it will see live.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import time
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import stripe
from flask import Flask
from flask.testing import FlaskClient
from requests.structures import CaseInsensitiveDict

from dashboard.payments.stripe_gateway import API_VERSION
from dashboard.services.inbox.applier import drain

# The secret key the app is given when Stripe's HTTP is the double (see the live_app fixture).
TEST_KEY = "sk_test_x"
# The webhook endpoint's signing secret in the tests' configuration (base_config).
WEBHOOK_SECRET = "whsec_test_endpoint_secret"

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"


def stripe_example(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


# -- the HTTP double ----------------------------------------------------------------------


class Call(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]
    post_data: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)

    @property
    def form(self) -> dict[str, list[str]]:
        if not self.post_data:
            return {}
        return parse_qs(self.post_data, keep_blank_values=True, strict_parsing=True)


class FakeStripeHTTP(stripe.HTTPClient):
    """Stripe's API as far as these tests need it, behind the SDK's HTTP client interface."""

    name = "fake-stripe"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.unrouted: list[Call] = []
        self.balance_transactions: dict[str, dict[str, Any]] = {}
        # What a capture's or refund's balance transaction says beyond its amount (the
        # settlement currency, exchange rate, fee and fee_details): a test sets this first.
        self.settlement: dict[str, Any] = {
            "fee_details": [
                {
                    "amount": 117,
                    "application": None,
                    "currency": "usd",
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ],
        }
        # Fields of the charge a capture answers with (card details, outcome, ...).
        self.charge_fields: dict[str, Any] = {}
        # Disputes the double knows (a test puts them here), and the files uploaded to it.
        self.disputes: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        # Shared payment tokens whose card's bank asks for 3-D Secure (a test adds them).
        self.authenticating_tokens: set[str] = set()
        self._failures: list[tuple[str, str, int, dict[str, Any]]] = []
        self._ids = itertools.count(1)

    # -- what tests use -------------------------------------------------------------------

    def fail_next(self, method: str, path: str, status: int, error: dict[str, Any]) -> None:
        self._failures.append((method, path, status, {"error": error}))

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if (c.method, c.path) == (method, path)]

    def trace(self, since: int = 0) -> list[tuple[str, str]]:
        return [(c.method, c.path) for c in self.calls[since:]]

    def only_session(self) -> dict[str, Any]:
        (session,) = self.sessions.values()
        return session

    def complete(self, session_id: str, *, payment_status: str) -> dict[str, Any]:
        """The buyer paid on Stripe's page: a card hold, as checkout.session.completed says."""
        session = self.sessions[session_id]
        amount = session["amount_total"]
        intent_id = f"pi_test_{next(self._ids)}"
        charge = stripe_example("charge")
        charge.update(
            id=f"ch_test_{next(self._ids)}",
            amount=amount,
            amount_captured=0,
            captured=False,
            currency=session["currency"],
            payment_intent=intent_id,
            created=int(time.time()),
        )
        charge["payment_method_details"]["card"]["capture_before"] = int(time.time()) + 6 * 86400
        intent = stripe_example("payment_intent")
        intent.update(
            id=intent_id,
            amount=amount,
            amount_capturable=amount,
            amount_received=0,
            canceled_at=None,
            capture_method="manual",
            client_secret=f"{intent_id}_secret_test",
            created=int(time.time()),
            currency=session["currency"],
            latest_charge=charge,
            metadata=dict(session["metadata"]),
            payment_method="pm_card_visa",
            status="requires_capture",
        )
        self.intents[intent_id] = intent
        session.update(status="complete", payment_status=payment_status, payment_intent=intent_id)
        return intent

    # -- the HTTP client interface ------------------------------------------------------

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        call = Call(method.upper(), url, dict(headers or {}), post_data)
        self.calls.append(call)
        for index, (fail_method, fail_path, status, body) in enumerate(self._failures):
            if (fail_method, fail_path) == (call.method, call.path):
                del self._failures[index]
                return self._answer(body, status)
        for pattern, handler in self._routes():
            match = re.fullmatch(pattern, f"{call.method} {call.path}")
            if match:
                return handler(call, *match.groups())
        self.unrouted.append(call)
        return self._missing(f"Unrecognized request URL ({call.method}: {call.path})")

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise AssertionError("the gateway never streams")

    def close(self) -> None:
        pass

    # -- routes -------------------------------------------------------------------------

    def _routes(self):
        return [
            (r"POST /v1/checkout/sessions", self._create_session),
            (r"GET /v1/checkout/sessions/([^/]+)", self._get_session),
            (r"POST /v1/checkout/sessions/([^/]+)/expire", self._expire_session),
            (r"POST /v1/customers", self._create_customer),
            (r"POST /v1/payment_intents", self._create_intent),
            (r"POST /v1/payment_intents/(pi_[^/]+)", self._update_intent),
            (r"GET /v1/payment_intents/([^/]+)", self._get_intent),
            (r"POST /v1/payment_intents/([^/]+)/capture", self._capture_intent),
            (r"POST /v1/payment_intents/([^/]+)/cancel", self._cancel_intent),
            (r"POST /v1/payment_intents/([^/]+)/confirm", self._confirm_intent),
            (
                r"POST /v1/payment_intents/([^/]+)/increment_authorization",
                self._increment_intent,
            ),
            (r"POST /v1/refunds", self._create_refund),
            (r"GET /v1/balance_transactions/([^/]+)", self._get_balance_transaction),
            (r"POST /v1/disputes/(dp_[^/]+)", self._update_dispute),
            (r"POST /v1/files", self._create_file),
        ]

    def _update_dispute(self, call: Call, dispute_id: str):
        """Evidence staged (`submit=false`) or submitted (the default), as Stripe keeps it:
        has_evidence once any is given; a submission moves the dispute under review."""
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            return self._missing(f"No such dispute: '{dispute_id}'")
        form = {key: values[-1] for key, values in call.form.items()}
        for key, value in form.items():
            if key.startswith("evidence["):
                dispute["evidence"][key[len("evidence[") : -1]] = value
        details = dispute["evidence_details"]
        details["has_evidence"] = True
        if form.get("submit", "true") == "true":
            details["submission_count"] += 1
            dispute["status"] = {
                "warning_needs_response": "warning_under_review",
                "appeal_needs_response": "appeal_under_review",
            }.get(dispute["status"], "under_review")
        return self._answer(dispute)

    def _create_file(self, call: Call):
        """Stripe's File object for a multipart upload (files.stripe.com)."""
        parts = multipart_parts(call)
        file_id = f"file_test_{next(self._ids)}"
        filename, content = parts["file"]
        made = {
            "id": file_id,
            "object": "file",
            "created": int(time.time()),
            "expires_at": None,
            "filename": filename,
            "links": {"object": "list", "data": [], "has_more": False, "url": "/v1/file_links"},
            "purpose": parts["purpose"][1].decode(),
            "size": len(content),
            "title": None,
            "type": filename.rsplit(".", 1)[-1],
            "url": f"https://files.stripe.com/v1/files/{file_id}/contents",
        }
        self.files[file_id] = {**made, "content": content}
        return self._answer(made)

    def _create_session(self, call: Call):
        form = {key: values[-1] for key, values in call.form.items()}
        count = len({key.split("]")[0] for key in form if key.startswith("line_items[")})
        amount = sum(
            int(form[f"line_items[{i}][quantity]"])
            * int(form[f"line_items[{i}][price_data][unit_amount]"])
            for i in range(count)
        )
        session_id = f"cs_test_{next(self._ids):04d}"
        session = stripe_example("checkout_session")
        session.update(
            id=session_id,
            url=f"https://checkout.stripe.com/c/pay/{session_id}",
            status="open",
            payment_status="unpaid",
            payment_intent=None,
            amount_subtotal=amount,
            amount_total=amount,
            currency=form["line_items[0][price_data][currency]"],
            client_reference_id=form["client_reference_id"],
            customer_email=form.get("customer_email"),
            customer=form.get("customer"),
            metadata={"order_id": form["metadata[order_id]"]},
            success_url=form["success_url"],
            cancel_url=form["cancel_url"],
            created=int(time.time()),
            expires_at=int(form["expires_at"]),
        )
        self.sessions[session_id] = session
        return self._answer(session)

    def _get_session(self, call: Call, session_id: str):
        if session_id not in self.sessions:
            return self._missing(f"No such checkout.session: '{session_id}'")
        return self._answer(self.sessions[session_id])

    def _expire_session(self, call: Call, session_id: str):
        session = self.sessions.get(session_id)
        if session is None:
            return self._missing(f"No such checkout.session: '{session_id}'")
        if session["status"] != "open":
            error = {
                "type": "invalid_request_error",
                "message": f"Only Checkout Sessions with a status of `open` can be expired. "
                f"This Checkout Session has a status of `{session['status']}`.",
            }
            return self._answer({"error": error}, 400)
        session["status"] = "expired"
        return self._answer(session)

    def _create_intent(self, call: Call):
        form = {key: values[-1] for key, values in call.form.items()}
        intent_id = f"pi_test_{next(self._ids)}"
        intent = stripe_example("payment_intent")
        intent.update(
            id=intent_id,
            amount=int(form["amount"]),
            currency=form["currency"],
            capture_method=form.get("capture_method", "automatic"),
            canceled_at=None,
            client_secret=f"{intent_id}_secret_test",
            created=int(time.time()),
            description=form.get("description"),
            metadata={
                key[len("metadata[") : -1]: value
                for key, value in form.items()
                if key.startswith("metadata[")
            },
            customer=form.get("customer"),
            setup_future_usage=form.get("setup_future_usage"),
            payment_method=form.get("payment_method"),
            status="requires_payment_method",
        )
        # An agent's shared payment token stands for the card it was granted for.
        token = form.get("payment_method_data[shared_payment_granted_token]")
        if form.get("confirm") == "true" and token in self.authenticating_tokens:
            # The card's bank asks for 3-D Secure first.
            intent.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
        elif form.get("confirm") == "true" and (form.get("payment_method") or token):
            self._hold(intent)
        self.intents[intent_id] = intent
        return self._answer(intent)

    def _hold(self, intent: dict[str, Any]) -> None:
        """A card that authorizes: a hold, with its deadline on the charge."""
        held = charge(
            None,
            id=f"ch_test_{next(self._ids)}",
            payment_intent=intent["id"],
            amount=intent["amount"],
            **self.charge_fields,
        )
        held["payment_method_details"]["card"]["capture_before"] = int(time.time()) + 6 * 86400
        intent.update(
            status="requires_capture",
            amount_capturable=intent["amount"],
            latest_charge=held,
            next_action=None,
        )

    def _confirm_intent(self, call: Call, intent_id: str):
        """Confirmed again with the result of 3-D Secure run elsewhere: the hold is made
        when the result carries a cryptogram; without one the bank still waits."""
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._missing(f"No such payment_intent: '{intent_id}'")
        if intent["status"] not in ("requires_action", "requires_confirmation"):
            error = {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": f"This PaymentIntent's status is {intent['status']}.",
            }
            return self._answer({"error": error}, 400)
        form = {key: values[-1] for key, values in call.form.items()}
        if form.get("payment_method_options[card][three_d_secure][cryptogram]"):
            self._hold(intent)
        return self._answer(intent)

    def _create_customer(self, call: Call):
        form = {key: values[-1] for key, values in call.form.items()}
        customer_id = f"cus_test_{next(self._ids)}"
        return self._answer({"id": customer_id, "object": "customer", "email": form["email"]})

    def _update_intent(self, call: Call, intent_id: str):
        """Only what the pay page changes: whether the card is kept, and for whom."""
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._missing(f"No such payment_intent: '{intent_id}'")
        form = {key: values[-1] for key, values in call.form.items()}
        intent["setup_future_usage"] = form.get("setup_future_usage") or None
        intent["customer"] = form.get("customer", intent.get("customer"))
        return self._answer(intent)

    def _get_intent(self, call: Call, intent_id: str):
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._missing(f"No such payment_intent: '{intent_id}'")
        answer = copy.deepcopy(intent)
        charge = answer.get("latest_charge")
        expand = self._expand(call)
        if isinstance(charge, dict) and not any(p.startswith("latest_charge") for p in expand):
            answer["latest_charge"] = charge["id"]
        elif isinstance(charge, dict):
            self._expand_balance(charge, "latest_charge.balance_transaction" in expand)
        return self._answer(answer)

    def _expand(self, call: Call) -> list[str]:
        """The `expand[]` paths of a request, whether sent in the query or the form."""
        sent = {**call.query, **call.form}
        return [
            value for key, values in sent.items() if key.startswith("expand[") for value in values
        ]

    def _expand_balance(self, obj: dict[str, Any], expanded: bool) -> None:
        """An object's balance transaction as Stripe answers it: its id, or the object."""
        known = obj.get("balance_transaction")
        if isinstance(known, dict):
            known = known["id"]
        if expanded and known in self.balance_transactions:
            obj["balance_transaction"] = copy.deepcopy(self.balance_transactions[known])
        else:
            obj["balance_transaction"] = known

    def balance_for(self, source: str, amount: int, currency: str) -> str:
        """A balance transaction for a capture (amount > 0) or refund (< 0), shaped by
        `settlement` as Stripe would report it; its id."""
        made = stripe_example("balance_transaction")
        rate = self.settlement.get("exchange_rate")
        settled = round(amount * rate) if rate else amount
        details = self.settlement.get("fee_details", [])
        fee = sum(detail["amount"] for detail in details) if amount > 0 else 0
        made.update(
            id=f"txn_test_{next(self._ids)}",
            amount=settled,
            currency=self.settlement.get("currency", currency.lower()),
            exchange_rate=rate,
            fee=self.settlement.get("fee", fee),
            fee_details=details if amount > 0 else [],
            net=settled - self.settlement.get("fee", fee),
            source=source,
            type="charge" if amount > 0 else "refund",
            reporting_category="charge" if amount > 0 else "refund",
            status="pending",
        )
        self.balance_transactions[made["id"]] = made
        return made["id"]

    def _get_balance_transaction(self, call: Call, balance_id: str):
        if balance_id not in self.balance_transactions:
            return self._missing(f"No such balance_transaction: '{balance_id}'")
        return self._answer(self.balance_transactions[balance_id])

    def _capture_intent(self, call: Call, intent_id: str):
        """A hold captured in full or in part (the rest released, counted as refunded on the
        charge, as Stripe does). With `final_capture=false` (multicapture) the rest stays
        held: the PaymentIntent keeps `requires_capture`, its amount_received growing."""
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._missing(f"No such payment_intent: '{intent_id}'")
        form = {key: values[-1] for key, values in call.form.items()}
        before = int(intent.get("amount_received") or 0)
        taken = int(form.get("amount_to_capture", intent["amount_capturable"]))
        total = before + taken
        final = form.get("final_capture") != "false"
        held = intent.get("latest_charge")
        kept = {}
        if isinstance(held, dict):
            # What the network granted stays on the charge through its captures.
            kept = {"id": held["id"], "payment_method_details": held["payment_method_details"]}
        made = charge(
            None,
            payment_intent=intent_id,
            amount=intent["amount"],
            captured=True,
            amount_captured=total,
            **kept,
            **self.charge_fields,
        )
        if not final:
            made.update(amount_refunded=0, refunded=False)
        made["balance_transaction"] = self.balance_for(made["id"], taken, intent["currency"])
        intent.update(
            status="succeeded" if final else "requires_capture",
            amount_capturable=0 if final else intent["amount"] - total,
            amount_received=total,
            latest_charge=made,
        )
        return self._get_intent(call, intent_id)

    def _increment_intent(self, call: Call, intent_id: str):
        """Incremental authorization: `amount` is the new total of the hold."""
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._missing(f"No such payment_intent: '{intent_id}'")
        form = {key: values[-1] for key, values in call.form.items()}
        amount = int(form["amount"])
        intent.update(amount=amount, amount_capturable=amount)
        held = intent.get("latest_charge")
        if isinstance(held, dict):
            held["amount"] = amount
        return self._get_intent(call, intent_id)

    def _cancel_intent(self, call: Call, intent_id: str):
        intent = self.intents.get(intent_id)
        if intent is None:
            return self._missing(f"No such payment_intent: '{intent_id}'")
        form = {key: values[-1] for key, values in call.form.items()}
        captured = int(intent.get("amount_received") or 0)
        held = intent.get("latest_charge")
        if captured and isinstance(held, dict):
            # Multicapture: canceling after partial captures releases only what is held.
            held.update(amount_refunded=intent["amount"] - captured, refunded=True)
            intent.update(
                status="canceled",
                amount_capturable=0,
                cancellation_reason=form.get("cancellation_reason"),
                canceled_at=int(time.time()),
            )
            return self._get_intent(call, intent_id)
        released = charge(None, payment_intent=intent_id, amount=intent["amount"])
        released.update(amount_refunded=intent["amount"], refunded=True)
        intent.update(
            status="canceled",
            amount_capturable=0,
            cancellation_reason=form.get("cancellation_reason"),
            canceled_at=int(time.time()),
            latest_charge=released,
        )
        return self._get_intent(call, intent_id)

    def _create_refund(self, call: Call):
        form = {key: values[-1] for key, values in call.form.items()}
        made = refund(
            id=f"re_test_{next(self._ids)}",
            amount=int(form["amount"]),
            status="succeeded",
            payment_intent=form["payment_intent"],
            idempotency_key=form.get("metadata[idempotency_key]"),
        )
        made["metadata"] = {
            key[len("metadata[") : -1]: value
            for key, value in form.items()
            if key.startswith("metadata[")
        }
        made["reason"] = form.get("reason")
        intent = self.intents.get(form["payment_intent"], {})
        made["balance_transaction"] = self.balance_for(
            made["id"], -made["amount"], intent.get("currency", "usd")
        )
        self._expand_balance(made, "balance_transaction" in self._expand(call))
        return self._answer(made)

    def _missing(self, message: str):
        error = {"type": "invalid_request_error", "code": "resource_missing", "message": message}
        return self._answer({"error": error}, 404)

    def _answer(self, body: dict[str, Any], status: int = 200):
        headers = CaseInsensitiveDict(
            {
                "Content-Type": "application/json",
                "Request-Id": f"req_test_{next(self._ids)}",
                "Stripe-Version": API_VERSION,
            }
        )
        return json.dumps(body), status, headers


def multipart_parts(call: Call) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data request's parts: name -> (filename, content), as sent."""
    body = call.post_data if isinstance(call.post_data, bytes) else str(call.post_data).encode()
    content_type = next(v for k, v in call.headers.items() if k.lower() == "content-type")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return parts


# -- Stripe objects as they appear inside events -------------------------------------------

AMOUNT = 3000


def intent(
    order_id: int | None,
    *,
    id: str = "pi_test_hold",
    status: str,
    amount: int = AMOUNT,
    capturable: int = 0,
    received: int = 0,
    **fields: Any,
) -> dict[str, Any]:
    obj = stripe_example("payment_intent")
    obj.update(
        id=id,
        amount=amount,
        amount_capturable=capturable,
        amount_received=received,
        capture_method="manual",
        canceled_at=None,
        client_secret=f"{id}_secret_do_not_show",
        created=int(time.time()) - 60,
        latest_charge="ch_test_hold" if status in ("requires_capture", "succeeded") else None,
        metadata={"order_id": str(order_id)} if order_id is not None else {},
        status=status,
    )
    obj.update(fields)
    return obj


def charge(
    order_id: int | None,
    *,
    id: str = "ch_test_hold",
    payment_intent: str = "pi_test_hold",
    amount: int = AMOUNT,
    captured: bool = False,
    amount_captured: int = 0,
    refunds: int = 0,
    **fields: Any,
) -> dict[str, Any]:
    """`refunds`: what went back to the buyer. Like Stripe, the charge's amount_refunded
    also counts the part of the hold a partial capture released."""
    released = amount - amount_captured if captured else 0
    obj = stripe_example("charge")
    obj.update(
        id=id,
        amount=amount,
        amount_captured=amount_captured,
        amount_refunded=released + refunds,
        captured=captured,
        refunded=released + refunds >= amount,
        payment_intent=payment_intent,
        metadata={"order_id": str(order_id)} if order_id is not None else {},
        status="succeeded",
        created=int(time.time()) - 60,
    )
    obj.update(fields)
    return obj


def refund(
    *,
    id: str = "re_test_1",
    amount: int,
    status: str,
    payment_intent: str = "pi_test_hold",
    idempotency_key: str | None = None,
    failure_reason: str | None = None,
) -> dict[str, Any]:
    obj = stripe_example("refund")
    obj.update(
        id=id,
        amount=amount,
        status=status,
        payment_intent=payment_intent,
        charge="ch_test_hold",
        metadata={"idempotency_key": idempotency_key} if idempotency_key else {},
        failure_reason=failure_reason,
    )
    return obj


def dispute(
    *, id: str = "dp_test_1", status: str, amount: int = AMOUNT, due_by: int | None = None
) -> dict[str, Any]:
    obj = stripe_example("dispute")
    obj.update(
        id=id,
        amount=amount,
        charge="ch_test_hold",
        payment_intent="pi_test_hold",
        reason="fraudulent",
        status=status,
    )
    obj["evidence_details"]["due_by"] = due_by or int(time.time()) + 7 * 86400
    return obj


def completed_session(
    order_id: int,
    *,
    id: str,
    payment_intent: str,
    payment_status: str = "unpaid",
    metadata: bool = True,
) -> dict[str, Any]:
    """A Checkout Session the buyer completed (a card hold: `unpaid` until captured)."""
    obj = stripe_example("checkout_session")
    obj.update(
        id=id,
        status="complete",
        payment_status=payment_status,
        payment_intent=payment_intent,
        client_reference_id=str(order_id),
    )
    if metadata:
        obj["metadata"] = {"order_id": str(order_id)}
    return obj


def hold_event(
    order_id: int, *, payment_intent: str = "pi_test_hold", **event: Any
) -> dict[str, Any]:
    """payment_intent.amount_capturable_updated: the buyer's card hold of AMOUNT on the
    order. `event` goes to stripe_event (event_id, created, livemode)."""
    obj = intent(order_id, id=payment_intent, status="requires_capture", capturable=AMOUNT)
    return stripe_event("payment_intent.amount_capturable_updated", obj, **event)


# -- Stripe's webhooks: events shaped and signed exactly as Stripe sends them ---------------


def stripe_signature(
    body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """The Stripe-Signature header, computed as Stripe documents it (not with our code)."""
    moment = int(time.time()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


_event_ids = iter(range(1, 10**9))


def stripe_event(
    type_: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
    livemode: bool = False,
) -> dict[str, Any]:
    """An event around `obj`, in the shape of Stripe's published example event."""
    return {
        "id": event_id or f"evt_test_{next(_event_ids):08d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def send_event(
    client: FlaskClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    apply: bool = True,
) -> Any:
    """POST the event to our endpoint with Stripe's headers, signed over the exact bytes."""
    body = json.dumps(event).encode()
    return send_raw(client, body, secret=secret, timestamp=timestamp, apply=apply)


def send_raw(
    client: FlaskClient,
    body: bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    apply: bool = True,
) -> Any:
    """POST these exact bytes to our endpoint, signed as Stripe signs them, then apply what
    it stored, as the worker's applier does right after the answer (the tests' app runs no
    applier thread, so that what follows sees the event applied); `apply=False` leaves it
    stored, pending."""
    answer = client.post(
        "/webhooks/stripe",
        data=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature(body, secret, timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
    )
    if apply and 200 <= answer.status_code < 300:
        apply_stored(client.application)
    return answer


def apply_stored(app: Flask) -> None:
    """What the worker's applier does after a delivery is answered: apply every stored,
    pending event (dashboard/services/inbox/applier.py)."""
    with app.app_context():
        drain(app.config["WEBHOOK_APPLY_PAGE"])
