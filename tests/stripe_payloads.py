"""Stripe objects as they appear inside events, built from Stripe's published examples.

Only the fields a case needs are changed; everything else is Stripe's own example, so the
code under test sees the full shape (extra fields, nulls, nested objects) it will see live.
"""

from __future__ import annotations

import time
from typing import Any

from tests.stripe_double import stripe_example

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
