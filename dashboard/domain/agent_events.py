"""Order events back to the agent (ACP `order_create` / `order_update`): the full Order
object as the protocol's webhook file defines it, its JSON body, and its signature.

Pure: the services hand in what the database holds (`OrderFacts`) and send what this
returns. The webhook file (openapi.agentic_checkout_webhook.yaml, version 2026-04-17):
the body is `{"type": ..., "data": <Order with type "order">}`, the `data` is the full
order, never a delta; the `Merchant-Signature` header is `t=<unix seconds>,v1=<64 hex>`,
the hex being HMAC-SHA256 of `<timestamp>.<raw body>` under the shared secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.domain.orders import OrderState as S

ORDER_CREATE = "order_create"
ORDER_UPDATE = "order_update"
SIGNATURE_HEADER = "Merchant-Signature"

# The protocol's order status for each state of ours. The panel tracks payments, not
# shipping: a hold placed is "confirmed", money taken is "processing" (the merchant
# prepares it), a hold released or lapsed is "canceled". Refunds and disputes keep the
# status and show as adjustments, as the protocol's own refund example does.
STATUS: dict[S, str] = {
    S.OPEN: "created",
    S.PROCESSING: "created",
    S.FAILED: "created",
    S.AUTHORIZED: "confirmed",
    S.PARTLY_CAPTURED: "processing",
    S.CAPTURED: "processing",
    S.PARTIALLY_REFUNDED: "processing",
    S.REFUNDED: "processing",
    S.VOIDED: "canceled",
    S.EXPIRED: "canceled",
}
# Before a hold the order is not the agent's yet (a declined card leaves no order behind
# in the protocol): its first event waits for a hold, unless the agent API asks sooner.
BEFORE_A_HOLD = frozenset({S.OPEN, S.PROCESSING, S.FAILED})

# A dispute's Stripe status, as the protocol's adjustment status: the buyer is credited
# once the merchant lost it; won or closed, nothing was credited.
DISPUTE_COMPLETED = frozenset({"lost"})
DISPUTE_FAILED = frozenset({"won", "warning_closed", "prevented"})


@dataclass(frozen=True)
class LineFacts:
    id: int
    title: str
    quantity: int
    unit_amount: int
    amount: int


@dataclass(frozen=True)
class AdjustmentFacts:
    """A refund or a dispute of the order's payment."""

    id: str  # the Stripe id (re_…, du_…) or our own when Stripe gave none yet
    kind: str  # "refund" or "dispute"
    occurred_at: datetime
    status: str  # the protocol's: pending, completed, failed
    amount: int
    currency: str
    description: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    id: int
    checkout_session_id: str
    permalink_url: str
    state: S
    currency: str
    total_amount: int
    amount_refunded: int
    lines: tuple[LineFacts, ...]
    adjustments: tuple[AdjustmentFacts, ...] = ()


def dispute_status(stripe_status: str) -> str:
    if stripe_status in DISPUTE_COMPLETED:
        return "completed"
    if stripe_status in DISPUTE_FAILED:
        return "failed"
    return "pending"


def refund_status(movement_status: str) -> str:
    return {"succeeded": "completed", "failed": "failed", "canceled": "failed"}.get(
        movement_status, "pending"
    )


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def order_object(facts: OrderFacts) -> dict[str, Any]:
    """The protocol's Order, `type: "order"`, with every field the panel knows."""
    currency = facts.currency.lower()
    subtotal = sum(line.amount for line in facts.lines)
    totals: list[dict[str, Any]] = [
        {"type": "subtotal", "display_text": "Subtotal", "amount": subtotal},
        {"type": "total", "display_text": "Total", "amount": facts.total_amount},
    ]
    if facts.amount_refunded:
        totals.append(
            {"type": "amount_refunded", "display_text": "Refunded", "amount": facts.amount_refunded}
        )
    current = 0 if facts.state in (S.VOIDED, S.EXPIRED) else None
    return {
        "type": "order",
        "id": f"ord_{facts.id}",
        "order_number": str(facts.id),
        "checkout_session_id": facts.checkout_session_id,
        "permalink_url": facts.permalink_url,
        "status": STATUS[facts.state],
        "line_items": [
            {
                "id": f"li_{line.id}",
                "title": line.title,
                "quantity": {
                    "ordered": line.quantity,
                    "current": line.quantity if current is None else current,
                    "fulfilled": 0,
                },
                "unit_price": line.unit_amount,
                "subtotal": line.amount,
                "status": "processing" if current is None else "removed",
            }
            for line in facts.lines
        ],
        "fulfillments": [],
        "adjustments": [
            {
                "id": adjustment.id,
                "type": adjustment.kind,
                "occurred_at": _rfc3339(adjustment.occurred_at),
                "status": adjustment.status,
                "amount": adjustment.amount,
                "currency": adjustment.currency.lower() or currency,
                **({"description": adjustment.description} if adjustment.description else {}),
            }
            for adjustment in facts.adjustments
        ],
        "totals": totals,
    }


def event_body(event_type: str, order: dict[str, Any]) -> str:
    """The exact JSON sent (and signed): compact, keys sorted, so equal orders give equal
    bodies and a fingerprint tells whether anything changed."""
    return json.dumps({"type": event_type, "data": order}, sort_keys=True, separators=(",", ":"))


def fingerprint(order: dict[str, Any]) -> str:
    """What the agent last heard of the order, whatever the event type."""
    canonical = json.dumps(order, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Merchant-Signature` value: `t=<timestamp>,v1=<hex HMAC-SHA256 of t.body>`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
