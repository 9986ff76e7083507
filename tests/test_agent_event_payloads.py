"""The ACP order event's body and signature (domain/agent_events.py), for every order
state: valid against the protocol's webhook file, signed as its words say."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from openapi_core.testing import MockRequest

from dashboard.domain import agent_events as acp
from dashboard.domain.orders import OrderState
from tests.support.agent_receiver import PATH, webhook_spec

# The order statuses the webhook file's Order schema defines.
DEFINED = {
    "created",
    "confirmed",
    "manual_review",
    "processing",
    "shipped",
    "completed",
    "canceled",
}
WHEN = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def facts(state: OrderState, *, refunded: int = 0, adjustments=()) -> acp.OrderFacts:
    return acp.OrderFacts(
        id=42,
        checkout_session_id="cs_acp_1",
        permalink_url="https://shop.example/orders/42",
        state=state,
        currency="EUR",
        total_amount=3700,
        amount_refunded=refunded,
        lines=(acp.LineFacts(7, "Mug", 2, 1250, 2500), acp.LineFacts(8, "Tea", 1, 1200, 1200)),
        adjustments=tuple(adjustments),
    )


def validate(event_type: str, order: dict) -> None:
    body = acp.event_body(event_type, order).encode()
    request = MockRequest(
        "https://openai.example.com",
        "post",
        PATH,
        headers={
            "Merchant-Signature": acp.signature("whsec_x", 1_700_000_000, body),
            "Content-Type": "application/json",
        },
        data=body,
        content_type="application/json",
    )
    webhook_spec().validate_request(request)  # raises what breaks the file


@pytest.mark.parametrize("state", list(OrderState))
def test_every_state_gives_a_defined_status_and_a_valid_event(state):
    order = acp.order_object(facts(state))
    assert order["status"] in DEFINED
    validate(acp.ORDER_CREATE, order)
    validate(acp.ORDER_UPDATE, order)
    lines = order["line_items"]
    released = state in (OrderState.VOIDED, OrderState.EXPIRED)
    assert [line["quantity"]["current"] for line in lines] == ([0, 0] if released else [2, 1])


def test_refunds_and_disputes_are_adjustments_and_the_total_stays_the_charge():
    adjustments = [
        acp.AdjustmentFacts("re_1", "refund", WHEN, acp.refund_status("succeeded"), 500, "EUR"),
        acp.AdjustmentFacts("re_2", "refund", WHEN, acp.refund_status("pending"), 200, "EUR"),
        acp.AdjustmentFacts(
            "du_1", "dispute", WHEN, acp.dispute_status("needs_response"), 3000, "EUR", "why"
        ),
    ]
    order = acp.order_object(
        facts(OrderState.PARTIALLY_REFUNDED, refunded=700, adjustments=adjustments)
    )
    validate(acp.ORDER_UPDATE, order)
    assert [(a["status"], a["currency"], a["occurred_at"]) for a in order["adjustments"]] == [
        ("completed", "eur", "2026-12-07T03:00:00Z"),
        ("pending", "eur", "2026-12-07T03:00:00Z"),
        ("pending", "eur", "2026-12-07T03:00:00Z"),
    ]
    totals = {t["type"]: t["amount"] for t in order["totals"]}
    assert totals == {"subtotal": 3700, "total": 3700, "amount_refunded": 700}


@pytest.mark.parametrize(
    ("stripe_status", "expected"),
    [
        ("warning_needs_response", "pending"),
        ("needs_response", "pending"),
        ("under_review", "pending"),
        ("lost", "completed"),
        ("won", "failed"),
        ("warning_closed", "failed"),
        ("prevented", "failed"),
    ],
)
def test_a_disputes_status_as_the_protocol_reads_it(stripe_status, expected):
    assert acp.dispute_status(stripe_status) == expected


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_under_the_secret():
    body = acp.event_body(acp.ORDER_CREATE, acp.order_object(facts(OrderState.AUTHORIZED)))
    header = acp.signature("whsec_shared", 1_765_000_000, body.encode())
    timestamp, digest = (part.split("=", 1)[1] for part in header.split(","))
    signed = f"{timestamp}.{body}".encode()
    assert timestamp == "1765000000"
    assert digest == hmac.new(b"whsec_shared", signed, hashlib.sha256).hexdigest()
    assert json.loads(body)["data"]["type"] == "order"


def test_equal_orders_have_one_fingerprint_and_any_change_another():
    held = acp.order_object(facts(OrderState.AUTHORIZED))
    assert acp.fingerprint(held) == acp.fingerprint(acp.order_object(facts(OrderState.AUTHORIZED)))
    assert acp.fingerprint(held) != acp.fingerprint(acp.order_object(facts(OrderState.CAPTURED)))
    refunded = acp.order_object(facts(OrderState.CAPTURED, refunded=1))
    assert acp.fingerprint(refunded) != acp.fingerprint(
        acp.order_object(facts(OrderState.CAPTURED))
    )
