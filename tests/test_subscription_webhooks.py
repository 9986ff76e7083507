"""A subscription's events, signed as Stripe signs them, sent to our real endpoint: any
arrival order ends in the same state (every order of a renewal's events, and shuffles of a
subscription's whole life), a redelivery is applied once, and none of these types calls
Stripe while it is applied (so they may share a group-committed page)."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import OutboxEvent, StripeEvent, Subscription, SubscriptionInvoice
from dashboard.services.inbox.handlers.registry import HANDLERS
from tests.support.stripe import send_event, stripe_event
from tests.support.subscriptions import MONTH, invoice_object, subscription_object

T0 = 1_790_000_000
SUBSCRIPTION_TYPES = sorted(
    event_type
    for event_type in HANDLERS
    if event_type.startswith(("customer.subscription.", "invoice."))
)


def life(sub_id: str) -> list[dict[str, Any]]:
    """A subscription's whole life as Stripe reports it: it starts and is paid, renews,
    the renewal fails, is paid on retry, staff set it to end, then it ends. Several
    events share a second, as Stripe's do."""
    first, second = f"in_{sub_id}_1", f"in_{sub_id}_2"
    renewed = T0 + MONTH

    def sub(at: int, **fields: Any) -> dict[str, Any]:
        return stripe_event(
            "customer.subscription.deleted"
            if fields.get("status") == "canceled"
            else "customer.subscription.updated",
            subscription_object(sub_id, **fields),
            created=at,
        )

    def inv(type_: str, at: int, invoice_id: str, **fields: Any) -> dict[str, Any]:
        return stripe_event(type_, invoice_object(invoice_id, sub_id, **fields), created=at)

    start = {"billing_reason": "subscription_create"}
    later = {"period_start": renewed, "latest_invoice": second}
    created = sub(T0, status="incomplete", latest_invoice=first)
    created["type"] = "customer.subscription.created"
    return [
        created,
        inv("invoice.finalized", T0, first, **start),
        inv("invoice.paid", T0 + 1, first, status="paid", payment_intent="pi_1", **start),
        sub(T0 + 1, latest_invoice=first),
        sub(renewed, **later),
        inv("invoice.finalized", renewed, second, period_start=renewed),
        inv(
            "invoice.payment_failed",
            renewed + 1,
            second,
            period_start=renewed,
            payment_intent="pi_2",
        ),
        sub(renewed + 1, status="past_due", **later),
        inv(
            "invoice.paid",
            renewed + 86400,
            second,
            status="paid",
            period_start=renewed,
            attempt_count=2,
            payment_intent="pi_2",
        ),
        sub(renewed + 86400, **later),
        sub(renewed + 90000, cancel_at_period_end=True, **later),
        sub(T0 + 2 * MONTH, status="canceled", cancel_at_period_end=True, **later),
    ]


def state_of(app, sub_id: str) -> tuple[Any, ...]:
    """Everything a person sees of the subscription, its invoices and its outbox events."""
    with app.app_context():
        sub = db.session.scalar(
            select(Subscription).where(Subscription.stripe_subscription_id == sub_id)
        )
        assert sub is not None
        invoices = db.session.scalars(
            select(SubscriptionInvoice)
            .where(SubscriptionInvoice.subscription_id == sub.id)
            .order_by(SubscriptionInvoice.stripe_invoice_id)
        )
        outbox = db.session.scalars(
            select(OutboxEvent.type).where(
                OutboxEvent.payload["subscription"].as_string() == sub_id
            )
        )
        return (
            sub.status,
            sub.cancel_at_period_end,
            sub.current_period_start,
            sub.current_period_end,
            sub.renewal_failed_at is None,
            tuple(
                (i.status, i.amount_paid, i.attempt_count, i.payment_failed, i.payment_intent_id)
                for i in invoices
            ),
            tuple(sorted(outbox)),
        )


def deliver(app, events: list[dict[str, Any]]) -> None:
    stripe = app.test_client()
    for event in events:
        answer = send_event(stripe, event)
        assert answer.status_code == 200, answer.get_data(as_text=True)


def renamed(events: list[dict[str, Any]], sub_id: str) -> list[dict[str, Any]]:
    """The same life for another subscription id (and new event ids)."""
    import json

    text = json.dumps(events).replace("sub_life", sub_id)
    return [{**event, "id": f"{event['id']}_{sub_id}"} for event in json.loads(text)]


def test_the_life_in_order_ends_canceled_with_both_invoices_paid(app):
    deliver(app, renamed(life("sub_life"), "sub_inorder"))
    status, ending, _start, _end, unflagged, invoices, outbox = state_of(app, "sub_inorder")
    assert (status, ending, unflagged) == ("canceled", True, True)
    assert [i[0] for i in invoices] == ["paid", "paid"]
    assert invoices[1][2:4] == (2, True)  # the renewal failed once, then was paid
    # The first invoice starts the subscription: not a renewal. The renewal failed once,
    # then was paid: one event each.
    assert outbox == ("SUBSCRIPTION_RENEWAL_FAILED", "SUBSCRIPTION_RENEWAL_PAID")


def test_every_order_of_a_renewals_events_ends_in_the_same_state(app):
    """The renewal's five events (period change, invoice finalized, payment failed, past
    due, paid on retry) in all 120 orders, after the start in order."""
    events = life("sub_life")
    start, renewal = events[:4], events[4:9]
    expected = None
    for number, order in enumerate(itertools.permutations(renewal)):
        sub_id = f"sub_perm_{number}"
        deliver(app, renamed([*start, *order], sub_id))
        state = state_of(app, sub_id)
        expected = expected or state
        assert state == expected, order
    assert expected is not None
    # Past due as Stripe last said (its "active again" comes later), the retry paid.
    assert expected[0] == "past_due" and expected[4] is True
    assert expected[5][1][:2] == ("paid", 1500)


@pytest.mark.parametrize("seed", range(12))
def test_any_shuffle_of_a_whole_life_ends_in_the_same_state(app, seed):
    events = life("sub_life")
    deliver(app, renamed(events, "sub_ordered"))
    shuffled = renamed(events, f"sub_shuffled_{seed}")
    random.Random(seed).shuffle(shuffled)
    deliver(app, shuffled)
    assert state_of(app, f"sub_shuffled_{seed}") == state_of(app, "sub_ordered")


def test_a_redelivered_event_is_applied_once(app):
    events = renamed(life("sub_life"), "sub_twice")
    deliver(app, events[:9])
    deliver(app, [events[6]])  # the failed payment again: no second alert or outbox event
    with app.app_context():
        rows = list(
            db.session.scalars(select(StripeEvent).where(StripeEvent.event_id == events[6]["id"]))
        )
        assert len(rows) == 1 and rows[0].delivery_count == 2
    assert state_of(app, "sub_twice")[6] == (
        "SUBSCRIPTION_RENEWAL_FAILED",
        "SUBSCRIPTION_RENEWAL_PAID",
    )


def test_an_unknown_status_is_flagged_not_applied(app):
    deliver(app, renamed(life("sub_life")[:1], "sub_odd"))
    odd = subscription_object("sub_odd", status="on_fire")
    deliver(app, [stripe_event("customer.subscription.updated", odd, created=T0 + 5)])
    with app.app_context():
        row = db.session.scalar(select(StripeEvent).order_by(StripeEvent.id.desc()).limit(1))
        assert (row.status, row.flag) == ("ignored", "implausible_amounts")
    assert state_of(app, "sub_odd")[0] == "incomplete"


@pytest.mark.parametrize("event_type", SUBSCRIPTION_TYPES)
def test_a_subscription_event_is_applied_without_calling_stripe(live_app, stripe_http, event_type):
    """live_app's Stripe is the HTTP double: any call would be recorded (and fail the
    test as unrouted)."""
    obj = (
        subscription_object("sub_nocall")
        if event_type.startswith("customer.")
        else invoice_object("in_nocall", "sub_nocall")
    )
    deliver(live_app, [stripe_event(event_type, obj)])
    with live_app.app_context():
        (row,) = db.session.scalars(select(StripeEvent))
        assert row.status == "applied", (row.reason, row.error)
    assert stripe_http.calls == []


def test_a_subscription_checkout_completing_is_not_an_orders_event(live_app, stripe_http):
    session = {
        "id": "cs_test_sub_done",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "customer": "cus_test_sub",
        "subscription": "sub_from_checkout",
        "metadata": {"plan_id": "1"},
        "client_reference_id": None,
        "payment_intent": None,
    }
    deliver(live_app, [stripe_event("checkout.session.completed", session)])
    with live_app.app_context():
        (row,) = db.session.scalars(select(StripeEvent))
        assert row.status == "ignored" and "subscription's own events" in row.reason
    assert stripe_http.calls == []
