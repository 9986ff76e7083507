"""customer.* and payment_method.* events, signed as Stripe signs them and sent to our
endpoint: any order of arrival (and a second delivery) ends in the same state, forward
only, each on the customer's timeline; an event about a customer we do not know is kept
as unmatched, never lost."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select, text

from dashboard.extensions import db
from dashboard.models import (
    Customer,
    CustomerTimelineEntry,
    Order,
    SavedPaymentMethod,
    StripeEvent,
)
from dashboard.services import customers
from tests.support.customer_stripe import card_method
from tests.support.database import stored_events
from tests.support.stripe import apply_stored, hold_event, send_event, stripe_event

T0 = 1_780_000_000


def make_customer(app, email: str, stripe_id: str) -> int:
    with app.app_context():
        customer = customers.find_or_create(email, "Ada")
        customer.stripe_customer_id = stripe_id
        db.session.commit()
        return customer.id


def history(cus: str, pm: str) -> dict[str, dict[str, Any]]:
    """A card's life in Stripe: added, its expiry renewed by the network, the customer
    renamed with it as default card, then the card removed."""
    detached = stripe_event(
        "payment_method.detached",
        card_method(pm, None, exp_year=2033, last4="4444"),
        created=T0 + 30,
    )
    detached["data"]["previous_attributes"] = {"customer": cus}
    return {
        "attached": stripe_event("payment_method.attached", card_method(pm, cus), created=T0),
        "renewed": stripe_event(
            "payment_method.card_automatically_updated",
            card_method(pm, cus, exp_year=2033, last4="4444"),
            created=T0 + 10,
        ),
        "renamed": stripe_event(
            "customer.updated",
            {
                "id": cus,
                "object": "customer",
                "name": "Ada Lovelace",
                "email": "x@example.com",
                "invoice_settings": {"default_payment_method": pm},
            },
            created=T0 + 20,
        ),
        "detached": detached,
    }


def final(app, customer_id: int, pm: str) -> tuple[Any, ...]:
    with app.app_context():
        customer = db.session.get_one(Customer, customer_id)
        method = db.session.scalar(
            select(SavedPaymentMethod).where(SavedPaymentMethod.stripe_payment_method_id == pm)
        )
        assert method is not None
        return (
            customer.name,
            method.status,
            method.last4,
            method.exp_year,
            method.detached_at is not None,
        )


TRUTH = ("Ada Lovelace", "detached", "4444", 2033, True)


def test_every_order_of_a_cards_events_ends_in_the_same_state(app, client):
    outcomes = {}
    for number, arrival in enumerate(
        itertools.permutations(["attached", "renewed", "renamed", "detached"])
    ):
        cus, pm = f"cus_perm_{number}", f"pm_perm_{number}"
        customer_id = make_customer(app, f"perm{number}@example.com", cus)
        events = history(cus, pm)
        for name in arrival:
            assert send_event(client, events[name]).status_code == 200
        send_event(client, events[arrival[0]])  # a second delivery changes nothing
        outcomes[arrival] = final(app, customer_id, pm)
    assert len(outcomes) == 24
    assert {arrival: got for arrival, got in outcomes.items() if got != TRUTH} == {}
    # Each event once on the customer's timeline, whatever arrived twice.
    with app.app_context():
        webhooks = db.session.scalars(
            select(CustomerTimelineEntry).where(CustomerTimelineEntry.kind == "webhook")
        ).all()
    assert len(webhooks) == 24 * 4
    assert {row.status for row in stored_events(app)} <= {"applied", "ignored"}
    assert {row.process_count for row in stored_events(app)} == {1}


def test_a_deleted_customer_loses_its_cards_and_stays_deleted(app, client):
    customer_id = make_customer(app, "del@example.com", "cus_del")
    send_event(
        client,
        stripe_event("payment_method.attached", card_method("pm_del", "cus_del"), created=T0),
    )
    gone = {"id": "cus_del", "object": "customer", "deleted": True}
    send_event(client, stripe_event("customer.deleted", gone, created=T0 + 5))
    late = {"id": "cus_del", "object": "customer", "name": "Back Again"}
    send_event(client, stripe_event("customer.updated", late, created=T0 + 9))
    with app.app_context():
        customer = db.session.get_one(Customer, customer_id)
        assert customer.stripe_deleted_at is not None and customer.name == "Ada"
        assert [m.status for m in customer.payment_methods] == ["detached"]


def test_an_event_about_a_customer_we_do_not_know_is_kept_unmatched(app, client):
    event = stripe_event("payment_method.attached", card_method("pm_x", "cus_stranger"))
    assert send_event(client, event).status_code == 200
    (row,) = stored_events(app)
    assert row.status == "unmatched"
    assert "cus_stranger" in (row.reason or "")
    with app.app_context():
        assert db.session.scalar(select(SavedPaymentMethod)) is None


@pytest.mark.parametrize(
    "event_type",
    [
        "customer.created",
        "customer.updated",
        "payment_method.attached",
        "payment_method.updated",
        "payment_method.automatically_updated",
    ],
)
def test_customer_events_ask_stripe_nothing(live_app, stripe_http, client, event_type):
    make_customer(live_app, "quiet@example.com", "cus_quiet")
    obj = (
        {"id": "cus_quiet", "object": "customer", "name": "Quiet"}
        if event_type.startswith("customer.")
        else card_method("pm_quiet", "cus_quiet")
    )
    assert send_event(client, stripe_event(event_type, obj)).status_code == 200
    (row,) = stored_events(live_app)
    assert row.status == "applied", (row.reason, row.error)
    assert stripe_http.calls == []


def test_a_page_of_holds_finds_each_buyer_once(app, make_order):
    """Three holds applied as one page: two orders of one new buyer (their email typed
    differently) and one of a buyer known before. The page reads its buyers in one go and
    makes the new one once: two customers, each order linked to its buyer, one "Customer
    created" entry for the new buyer."""
    known = make_customer(app, "known@example.com", "cus_known")
    orders = [
        make_order(buyer_email="Twin@Example.com", stripe_payment_intent_id="pi_twin_1"),
        make_order(buyer_email="twin@example.com ", stripe_payment_intent_id="pi_twin_2"),
        make_order(buyer_email="known@example.com", stripe_payment_intent_id="pi_known"),
    ]
    client = app.test_client()
    for order in orders:
        event = hold_event(order.id, payment_intent=order.stripe_payment_intent_id)
        assert send_event(client, event, apply=False).status_code == 200
    apply_stored(app)  # one page: the three events were pending together
    with app.app_context():
        twin = db.session.scalar(select(Customer).where(Customer.email == "twin@example.com"))
        assert twin is not None
        linked = [db.session.get(Order, order.id).customer_id for order in orders]
        assert linked == [twin.id, twin.id, known]
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 2
        made = db.session.scalars(
            select(CustomerTimelineEntry.customer_id).where(
                CustomerTimelineEntry.summary == "Customer created"
            )
        ).all()
        assert sorted(made) == sorted([known, twin.id])


def test_a_buyer_stored_by_someone_else_while_a_page_is_applied_is_theirs(app, make_order):
    """The page found no customer for a new buyer and made one with its other rows; another
    transaction stored the same buyer first (a buyer saving a card at that moment). The
    page's write waits for it, fails on the unique email, and the page is applied again one
    event at a time: the hold is applied, the order linked to the other's customer, and
    nothing is made twice."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL's row locks are what this shows")
    order = make_order(buyer_email="race@example.com", stripe_payment_intent_id="pi_race")
    client = app.test_client()
    event = hold_event(order.id, payment_intent="pi_race")
    assert send_event(client, event, apply=False).status_code == 200
    with app.app_context():
        other = db.engine.connect()
        theirs = other.execute(
            text(
                "INSERT INTO customers (email, name, created_at, updated_at) "
                "VALUES ('race@example.com', 'Theirs', now(), now()) RETURNING id"
            )
        ).scalar_one()
        applying = threading.Thread(target=apply_stored, args=(app,))
        applying.start()
        try:
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            for _ in range(200):
                with db.engine.connect() as look:
                    if look.execute(text(waiting)).scalar_one():
                        break
                time.sleep(0.05)
            else:
                pytest.fail("the page never waited for the other transaction's buyer")
            other.commit()
        finally:
            other.close()
            applying.join(timeout=60)
        assert not applying.is_alive()
        db.session.remove()
        assert db.session.get(Order, order.id).customer_id == theirs
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
        stored = db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == event["id"]))
        assert stored.status == "applied"
