"""localstripe, the offline Stripe of the sandbox and the tests, called directly: as Stripe's
own Dashboard would act on a payment, bypassing the dashboard's code."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

# The secret key the app and these calls give localstripe (it accepts any sk_test_ key).
SANDBOX_KEY = "sk_test_localstripe_tests"


def localstripe(url: str, path: str, form: dict[str, Any] | None = None) -> Any:
    """Call localstripe directly, as Stripe's Dashboard would act: bypassing ours. A form
    makes it a POST."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(
        url + path, data=data, headers={"Authorization": f"Bearer {SANDBOX_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def stripe_pi(localstripe_url: str, pi_id: str) -> dict[str, Any]:
    """What localstripe itself says about a PaymentIntent, read without our code."""
    result: dict[str, Any] = localstripe(localstripe_url, f"/v1/payment_intents/{pi_id}")
    return result


def capture_at_stripe(url: str, payment_intent_id: str) -> dict[str, Any]:
    """A capture made in Stripe itself, not through the dashboard: the PaymentIntent after."""
    result: dict[str, Any] = localstripe(
        url, f"/v1/payment_intents/{payment_intent_id}/capture", {}
    )
    return result


def refund_at_stripe(url: str, payment_intent_id: str, amount: int, **form: str) -> Any:
    """A refund made in Stripe itself (its Dashboard), not through the dashboard."""
    return localstripe(
        url, "/v1/refunds", {"payment_intent": payment_intent_id, "amount": amount, **form}
    )
