"""The inbox's handler registry: each handler says, where it registers, which event types it
takes and whether it may re-read Stripe. Webhook deliveries of the types that do not are
grouped into shared transactions (tests/test_group_commit.py), so that claim must be true:
delivered with a Stripe that answers nothing, none of them makes a call."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.services.inbox.handlers.registry import (
    HANDLERS,
    handles,
    registration,
    rereads_stripe,
)
from tests.support.database import reload, stored_events
from tests.support.stripe import (
    AMOUNT,
    charge,
    dispute,
    intent,
    send_event,
    stripe_event,
    stripe_example,
)

NEVER_ASK = sorted(
    event_type
    for event_type, registered in HANDLERS.items()
    if not registered.rereads_stripe and registered.customer_handler is None
)
# Events about customers and their cards (tests/test_customer_events.py): none asks Stripe.
ABOUT_CUSTOMERS = sorted(
    event_type for event_type, registered in HANDLERS.items() if registered.customer_handler
)


def object_for(event_type: str, order_id: int) -> dict[str, Any]:
    """A Stripe-shaped object of the kind this event type carries, for the order."""
    if event_type.startswith("payment_intent."):
        return intent(order_id, status="requires_capture", capturable=AMOUNT)
    if event_type.startswith("charge.dispute."):
        return dispute(status="needs_response")
    if event_type.startswith("charge."):
        return charge(order_id, captured=event_type == "charge.captured", amount_captured=AMOUNT)
    if event_type.startswith("checkout.session."):
        session = stripe_example("checkout_session")
        session.update(
            id="cs_test_registry",
            status="expired",
            payment_status="unpaid",
            payment_intent=None,
            client_reference_id=str(order_id),
        )
        return session
    raise AssertionError(f"no object for {event_type}: add one here")


def test_the_types_that_wait_on_stripe_are_the_ones_kept_out_of_pages():
    asks = {event_type for event_type in HANDLERS if rereads_stripe(event_type)}
    assert {"checkout.session.completed", "checkout.session.async_payment_succeeded"} <= asks
    assert {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"} <= asks
    assert "charge.refunded" in asks  # when one of the order's refunds failed
    assert not asks & {"payment_intent.succeeded", "charge.captured", "charge.dispute.created"}
    assert not rereads_stripe("product.created")  # a type no handler takes
    assert {"customer.updated", "payment_method.detached"} <= set(ABOUT_CUSTOMERS)
    assert not any(rereads_stripe(event_type) for event_type in ABOUT_CUSTOMERS)
    assert registration("customer.deleted") is not None
    assert not rereads_stripe(["not", "a", "type"])


@pytest.mark.parametrize("event_type", NEVER_ASK)
def test_a_type_registered_as_not_asking_stripe_is_handled_without_a_call(
    live_app, stripe_http, client, make_order, event_type
):
    """live_app's Stripe is the HTTP double with nothing routed: any call would be recorded
    (and fail the test at teardown as unrouted)."""
    order = make_order(
        state="authorized",
        stripe_payment_intent_id="pi_test_hold",
        stripe_charge_id="ch_test_hold",
        stripe_checkout_session_id="cs_test_registry",
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    answer = send_event(client, stripe_event(event_type, object_for(event_type, order.id)))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    (row,) = stored_events(live_app)
    assert row.status in ("applied", "ignored"), (row.status, row.reason, row.error)
    assert row.order_id == order.id
    assert stripe_http.calls == []
    assert reload(live_app, order.id).state in (
        "authorized",
        "captured",
        "voided",
        "expired",
        "failed",
    )


def test_a_type_cannot_be_registered_twice():
    with pytest.raises(RuntimeError, match=r"payment_intent\.succeeded has a handler already"):
        handles("payment_intent.succeeded", rereads_stripe=False)(lambda event: event)
