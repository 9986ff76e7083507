"""A hold whose card network granted what goes beyond one capture, as Stripe reports it on
the charge (`payment_method_details.card`), for the HTTP double to answer with."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.stripe import AMOUNT, FakeStripeHTTP, charge, intent
from tests.support.web import post_form

PI = "pi_test_hold"
CH = "ch_test_hold"
OVERCAPTURE_MAX = 4000  # $40.00 on a $30.00 hold


def card_features(
    *,
    multicapture: str = "available",
    incremental: str = "available",
    overcapture: str = "available",
    extended: str = "unavailable",
    capture_before: int | None = None,
) -> dict[str, Any]:
    return {
        "capture_before": capture_before or int(time.time()) + 10 * 86400,
        "extended_authorization": {"status": extended},
        "incremental_authorization": {"status": incremental},
        "multicapture": {"status": multicapture},
        "overcapture": {
            "status": overcapture,
            "maximum_amount_capturable": OVERCAPTURE_MAX if overcapture == "available" else 0,
        },
    }


def granted_intent(order_id: int, **features: Any) -> dict[str, Any]:
    """A $30.00 hold whose charge reports the grants (all but extended, by default)."""
    held = charge(order_id, id=CH, payment_intent=PI)
    held["payment_method_details"]["card"].update(card_features(**features))
    held["balance_transaction"] = None
    return intent(order_id, id=PI, status="requires_capture", capturable=AMOUNT, latest_charge=held)


def grant(
    app: Flask, stripe_http: FakeStripeHTTP, staff: FlaskClient, order_id: int, **features: Any
) -> None:
    """Stripe holds the granted PaymentIntent; staff's "Check with Stripe" reads it."""
    stripe_http.intents[PI] = granted_intent(order_id, **features)
    response = post_form(staff, f"/orders/{order_id}/settle")
    assert response.status_code == 303, response.get_data(as_text=True)
