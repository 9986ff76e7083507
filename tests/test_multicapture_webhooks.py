"""Several captures and a larger hold as Stripe's webhooks report them (charge.captured for
each capture, payment_intent.amount_capturable_updated as the hold changes): in any order,
each twice, they end where the truth is, and the ledger lists each capture once."""

from __future__ import annotations

import itertools
import time
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import MoneyMovement
from tests.support.database import outbox_types, reload
from tests.support.holds import card_features
from tests.support.stripe import AMOUNT, charge, intent, send_event, stripe_event


def granted_charge(order_id: int, pi: str, ch: str, captured: int, *, final: bool) -> dict:
    made = charge(order_id, id=ch, payment_intent=pi, captured=True, amount_captured=captured)
    made["payment_method_details"]["card"].update(card_features())
    if not final:  # multicapture: nothing released yet, the rest still held
        made.update(amount_refunded=0, refunded=False)
    return made


def history(order_id: int) -> dict[str, dict[str, Any]]:
    """Hold $30.00; capture $10.00, then $5.00 keeping the rest; final capture of $15.00."""
    pi, ch = f"pi_multi_{order_id}", f"ch_multi_{order_id}"
    created = int(time.time()) - 100
    return {
        "authorized": stripe_event(
            "payment_intent.amount_capturable_updated",
            intent(order_id, id=pi, status="requires_capture", capturable=AMOUNT, latest_charge=ch),
            created=created,
        ),
        "first capture": stripe_event(
            "charge.captured",
            granted_charge(order_id, pi, ch, 1000, final=False),
            created=created + 10,
        ),
        "second capture": stripe_event(
            "payment_intent.amount_capturable_updated",
            intent(
                order_id,
                id=pi,
                status="requires_capture",
                capturable=1500,
                received=1500,
                latest_charge=ch,
            ),
            created=created + 20,
        ),
        "final capture": stripe_event(
            "charge.captured",
            granted_charge(order_id, pi, ch, AMOUNT, final=True),
            created=created + 30,
        ),
    }


def final(app: Flask, order_id: int) -> tuple[Any, ...]:
    order = reload(app, order_id)
    with app.app_context():
        ledger = db.session.scalar(
            select(func.sum(MoneyMovement.amount)).where(
                MoneyMovement.order_id == order_id, MoneyMovement.kind == "capture"
            )
        )
    return (
        order.state,
        order.amount_authorized,
        order.amount_capturable,
        order.amount_captured,
        ledger,
        tuple(outbox_types(app, order_id)),
    )


TRUTH = ("captured", AMOUNT, 0, AMOUNT, AMOUNT, ("PAYMENT_SUCCEEDED",))


def test_every_order_of_a_multicapture_history_delivered_twice_ends_in_the_truth(app, make_order):
    client = app.test_client()
    wrong = {}
    for arrival in itertools.permutations(history(0)):
        order = make_order()
        events = history(order.id)
        for name in (*arrival, *arrival):
            assert send_event(client, events[name]).status_code == 200
        got = final(app, order.id)
        if got != TRUTH:
            wrong[arrival] = got
    assert not wrong


def test_between_captures_the_order_is_partly_captured_and_the_rest_held(app, make_order):
    client = app.test_client()
    order = make_order()
    events = history(order.id)
    for name in ("authorized", "second capture", "first capture", "second capture"):
        send_event(client, events[name])
    after = reload(app, order.id)
    assert (after.state, after.amount_captured, after.amount_capturable) == (
        "partly_captured",
        1500,
        1500,
    )


def test_a_larger_hold_reported_by_webhook_is_taken_once_and_never_shrinks(app, make_order):
    client = app.test_client()
    order = make_order()
    pi = f"pi_inc_{order.id}"
    created = int(time.time()) - 100

    def hold(amount: int, at: int) -> dict[str, Any]:
        obj = intent(order.id, id=pi, status="requires_capture", amount=amount, capturable=amount)
        return stripe_event("payment_intent.amount_capturable_updated", obj, created=at)

    larger, first = hold(4500, created + 10), hold(AMOUNT, created)
    for event in (larger, first, larger):
        assert send_event(client, event).status_code == 200
    after = reload(app, order.id)
    assert (after.state, after.amount_authorized, after.amount_capturable) == (
        "authorized",
        4500,
        4500,
    )
