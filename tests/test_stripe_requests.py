"""Capture, void, refund and the sweep's void, as production sends them.

localstripe refuses some of the parameters real Stripe takes (`cancellation_reason`,
`reason`), so the sandbox's compatibility layer strips them and the localstripe tests
cannot see them. Here the gateway runs as in production, against Stripe's HTTP
answered by the double at the SDK's boundary, and each request's exact form is pinned.
"""

from __future__ import annotations

from datetime import timedelta

from dashboard.models import Role, utcnow
from dashboard.payments.stripe_gateway import API_VERSION
from tests.support.database import reload
from tests.support.stripe import AMOUNT, intent
from tests.support.web import move_money

PI = "pi_test_hold"


def the_one(stripe_http, method, path):
    (call,) = stripe_http.calls_to(method, path)
    assert call.headers["Stripe-Version"] == API_VERSION
    return call


def test_a_capture_sends_the_amount_and_expands_the_charge(
    live_app, stripe_http, signed_in, authorized
):
    staff = signed_in(Role.STAFF, quick_hash=True)
    move_money(staff, f"/orders/{authorized.id}/capture", {"amount": "15.00"})

    call = the_one(stripe_http, "POST", f"/v1/payment_intents/{PI}/capture")
    # The charge comes with its balance transaction: the fee and net the order page shows.
    assert call.form == {
        "amount_to_capture": ["1500"],
        "expand[0]": ["latest_charge.balance_transaction"],
    }
    assert call.headers["Idempotency-Key"] == f"order-{authorized.id}-capture-1500-1"
    after = reload(live_app, authorized.id)
    assert (after.state, after.amount_captured) == ("captured", 1500)


def test_a_void_sends_the_reason_staff_chose(live_app, stripe_http, signed_in, authorized):
    staff = signed_in(Role.STAFF, quick_hash=True)
    move_money(staff, f"/orders/{authorized.id}/void", {"reason": "duplicate"})

    call = the_one(stripe_http, "POST", f"/v1/payment_intents/{PI}/cancel")
    assert call.form == {"cancellation_reason": ["duplicate"], "expand[0]": ["latest_charge"]}
    assert call.headers["Idempotency-Key"] == f"order-{authorized.id}-void-0-1"
    assert reload(live_app, authorized.id).state == "voided"


def test_a_refund_sends_amount_reason_and_the_key_to_find_it_again(
    live_app, stripe_http, signed_in, make_order
):
    order = make_order(
        state="captured",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_captured=AMOUNT,
    )
    staff = signed_in(Role.STAFF, quick_hash=True)
    move_money(staff, f"/orders/{order.id}/refund", {"amount": "5.00", "reason": "fraudulent"})

    call = the_one(stripe_http, "POST", "/v1/refunds")
    key = f"order-{order.id}-refund-500-1"
    assert call.form == {
        "payment_intent": [PI],
        "amount": ["500"],
        "reason": ["fraudulent"],
        "metadata[order_id]": [str(order.id)],
        "metadata[idempotency_key]": [key],
        "expand[0]": ["balance_transaction"],
    }
    assert call.headers["Idempotency-Key"] == key
    after = reload(live_app, order.id)
    assert (after.state, after.amount_refunded) == ("partially_refunded", 500)


def test_the_sweep_voids_an_expired_hold_as_abandoned(live_app, stripe_http, make_order):
    """Only when the merchant has chosen it: the hold is past its capture deadline."""
    live_app.config["SWEEP_VOID_EXPIRED_HOLDS"] = True
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
        created_at=utcnow() - timedelta(days=8),
        capture_before=utcnow() - timedelta(hours=1),
    )
    stripe_http.intents[PI] = intent(order.id, status="requires_capture", capturable=AMOUNT)

    result = live_app.test_cli_runner().invoke(args=["stripe", "sweep-holds", "--void-expired"])

    assert result.exit_code == 0, result.output
    call = the_one(stripe_http, "POST", f"/v1/payment_intents/{PI}/cancel")
    assert call.form == {"cancellation_reason": ["abandoned"], "expand[0]": ["latest_charge"]}
    assert call.headers["Idempotency-Key"] == f"order-{order.id}-void-0-1"
    assert reload(live_app, order.id).state == "voided"
