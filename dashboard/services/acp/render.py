"""A checkout session as the protocol's schema draws it (CheckoutSession, and
CheckoutSessionWithOrder once completed): integer minor units, line items with their
totals, the cart's totals, messages and links, and the payment handler we take."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.domain import acp
from dashboard.models import AgentCheckoutSession, Order
from dashboard.services.pay_links import pay_url

# The one way to pay here: a Stripe shared payment token, delegated by the agent.
HANDLER_ID = "card_tokenized"
PAYMENT_HANDLER: dict[str, Any] = {
    "id": HANDLER_ID,
    "name": "dev.acp.tokenized.card",
    "display_name": "Card",
    "version": "2026-01-22",
    "spec": "https://acp.dev/handlers/tokenized.card",
    "requires_delegate_payment": True,
    "requires_pci_compliance": False,
    "psp": "stripe",
    "config_schema": "https://acp.dev/schemas/handlers/tokenized.card/config.json",
    "instrument_schemas": ["https://acp.dev/schemas/handlers/tokenized.card/instrument.json"],
    "config": {"psp": "stripe", "credential_types": ["spt"]},
}


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _totals(amount: int) -> list[dict[str, Any]]:
    return [
        {"type": "items_base_amount", "display_text": "Item(s) total", "amount": amount},
        {"type": "subtotal", "display_text": "Subtotal", "amount": amount},
        {"type": "total", "display_text": "Total", "amount": amount},
    ]


def line_item(line: dict[str, Any]) -> dict[str, Any]:
    amount = int(line["quantity"]) * int(line["unit_amount"])
    return {
        "id": f"line_{line['product_id']}",
        "item": {
            "id": line["product_id"],
            "name": line["title"],
            "unit_amount": int(line["unit_amount"]),
        },
        "quantity": int(line["quantity"]),
        "name": line["title"],
        "unit_amount": int(line["unit_amount"]),
        "product_id": line["product_id"],
        "totals": _totals(amount),
    }


def cart_total(lines: list[dict[str, Any]]) -> int:
    return sum(int(line["quantity"]) * int(line["unit_amount"]) for line in lines)


def session_json(session: AgentCheckoutSession, order: Order | None = None) -> dict[str, Any]:
    """The session's whole authoritative state; with its order in complete's answer only
    (the OpenAPI file's CheckoutSession, which the other operations answer, has none)."""
    body: dict[str, Any] = {
        "id": session.id,
        "protocol": {"version": acp.PROTOCOL_VERSION},
        "capabilities": {"payment": {"handlers": [PAYMENT_HANDLER]}},
        "status": session.status,
        "currency": session.currency.lower(),
        "line_items": [line_item(line) for line in session.lines],
        "totals": _totals(cart_total(session.lines)),
        "fulfillment_options": [],
        "messages": list(session.messages or []),
        "links": [],
        "created_at": _stamp(session.created_at),
        "updated_at": _stamp(session.updated_at),
    }
    if session.buyer:
        body["buyer"] = dict(session.buyer)
    if session.fulfillment_details:
        body["fulfillment_details"] = dict(session.fulfillment_details)
    if session.status == acp.SessionStatus.AUTHENTICATION_REQUIRED:
        body["authentication_metadata"] = AUTHENTICATION_METADATA
    if order is not None and session.status == acp.SessionStatus.COMPLETED:
        body["order"] = order_json(session, order)
    return body


def order_json(session: AgentCheckoutSession, order: Order) -> dict[str, Any]:
    return {
        "type": "order",
        "id": str(order.id),
        "checkout_session_id": session.id,
        "order_number": order.number,
        # The buyer's own page of the order: where the payment stands.
        "permalink_url": pay_url(order.id),
        "status": "confirmed",
    }


# What the schema asks of a session waiting for 3-D Secure. Stripe runs the
# authentication for the card; these name the network the sandbox's cards are on.
AUTHENTICATION_METADATA: dict[str, Any] = {
    "acquirer_details": {
        "acquirer_bin": "000000",
        "acquirer_country": "US",
        "acquirer_merchant_id": "stripe",
        "merchant_name": "Merchant dashboard",
    },
    "directory_server": "visa",
}


def message(code: str, content: str, param: str | None = None) -> dict[str, Any]:
    """A MessageError for the agent (conversational: the session itself is valid)."""
    made: dict[str, Any] = {
        "type": "error",
        "code": code,
        "content_type": "plain",
        "content": content,
    }
    if param is not None:
        made["param"] = param
    return made
