"""Re-authorizing while Stripe fails at the HTTP boundary: a timeout, a 500, a 409, a lost
answer. Whatever happens, one new PaymentIntent at most exists at Stripe for the order's
request, no money is asked for twice, and "Check with Stripe" brings the order to the
truth: it finds the PaymentIntent by the key in its metadata before it would resend.

Everything above the wire is real (the routes, services, gateway, SDK, localstripe); only
the SDK's HTTP client is FaultyHTTP, which also plays Stripe's idempotency layer.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import update

from dashboard.extensions import db
from dashboard.models import Order, Role, User
from dashboard.services.payments import renewal
from dashboard.services.payments.results import ActionRefused, ActionResult
from tests.support.database import TEST_DATABASE_URL, reload, requests_of
from tests.support.faults import faulty_gateway
from tests.support.localstripe import localstripe, stripe_pi
from tests.support.web import HTMX, move_money, pay_link, post_form

CREATE = "/v1/payment_intents"
AWAITING = 'id="awaiting-confirmation"'


@pytest.fixture
def sandbox_app(sandbox_app, localstripe_url, http):
    sandbox_app.extensions["stripe_gateway"] = faulty_gateway(localstripe_url, http)
    return sandbox_app


@pytest.fixture
def staff(signed_in):
    return signed_in(Role.STAFF, quick_hash=True)


@pytest.fixture
def lapsed(sandbox_app, make_order, localstripe_url) -> Order:
    """Paid with the box ticked (a card kept on file), then the hold ran out."""
    order = make_order(buyer_email="faults@example.com")
    buyer = sandbox_app.test_client()
    post_form(
        buyer,
        pay_link(sandbox_app, order.id) + "/sandbox-card",
        {"card": "success", "keep_card": "y"},
    )
    held = reload(sandbox_app, order.id)
    assert held.saved_payment_method_id and held.state == "authorized"
    localstripe(localstripe_url, f"/v1/payment_intents/{held.stripe_payment_intent_id}/cancel", {})
    with sandbox_app.app_context():
        db.session.execute(
            update(Order).where(Order.id == order.id).values(state="expired", amount_capturable=0)
        )
        db.session.commit()
    return reload(sandbox_app, order.id)


def creates_reaching_stripe(http) -> list[Any]:
    """The re-authorizations (off-session creates) localstripe received."""
    return [
        s
        for s in http.seen
        if (s.method, s.path) == ("POST", CREATE)
        and s.reached_stripe
        and "off_session=true" in s.body
    ]


def reauthorize(staff, order_id: int) -> str:
    answer = move_money(staff, f"/orders/{order_id}/reauthorize", {}, headers=HTMX)
    return answer.get_data(as_text=True)


def settle(staff, order_id: int) -> str:
    return post_form(staff, f"/orders/{order_id}/settle", {}, headers=HTMX).get_data(as_text=True)


def assert_one_new_hold(app, order: Order, http, localstripe_url: str) -> None:
    after = reload(app, order.id)
    assert after.state == "authorized" and after.amount_capturable == 2500
    assert after.stripe_payment_intent_id != order.stripe_payment_intent_id
    assert stripe_pi(localstripe_url, after.stripe_payment_intent_id or "")["status"] == (
        "requires_capture"
    )
    assert len(creates_reaching_stripe(http)) == 1


@pytest.mark.parametrize("kind", ["timeout", "lost"])
def test_no_answer_is_settled_by_finding_the_payment_or_sending_the_same_request(
    sandbox_app, lapsed, staff, http, localstripe_url, kind
):
    http.arm("POST", CREATE, kind)
    panel = reauthorize(staff, lapsed.id)
    assert "No answer from Stripe for the re-authorize" in panel or "No answer from Stripe" in panel
    assert AWAITING in panel and 'id="reauthorize-form"' not in panel
    (row,) = requests_of(sandbox_app, lapsed.id, "reauthorize")
    assert row.status == "unknown"
    # A second click meanwhile is refused: nothing reaches Stripe.
    again = post_form(staff, f"/orders/{lapsed.id}/reauthorize", {}, headers=HTMX)
    assert again.status_code == 409

    settled = settle(staff, lapsed.id)
    assert "A new hold of $25.00 is in place." in settled, settled
    assert_one_new_hold(sandbox_app, lapsed, http, localstripe_url)
    (row,) = requests_of(sandbox_app, lapsed.id, "reauthorize")
    assert row.status == "succeeded"
    keys = {s.key for s in http.to("POST", CREATE) if "off_session=true" in s.body}
    assert keys == {row.idempotency_key}  # a resend, if any, was the very same request


def test_a_409_means_still_running_and_is_settled_without_a_second_payment(
    sandbox_app, lapsed, staff, http, localstripe_url
):
    http.arm("POST", CREATE, "status", 409)
    panel = reauthorize(staff, lapsed.id)
    assert "still being processed by Stripe" in panel and AWAITING in panel
    assert "A new hold of $25.00 is in place." in settle(staff, lapsed.id)
    assert_one_new_hold(sandbox_app, lapsed, http, localstripe_url)


def test_a_500_is_closed_as_not_done_and_a_new_attempt_makes_one_payment(
    sandbox_app, lapsed, staff, http, localstripe_url
):
    http.arm("POST", CREATE, "status", 500)
    assert AWAITING in reauthorize(staff, lapsed.id)
    settled = settle(staff, lapsed.id)
    # Stripe keeps the 500 for that key: resending would replay it. Nothing was made.
    assert "did not happen. Nothing moved; you can try again." in settled
    assert creates_reaching_stripe(http) == []
    assert reload(sandbox_app, lapsed.id).state == "expired"

    assert "A new hold of $25.00 is in place." in reauthorize(staff, lapsed.id)
    assert_one_new_hold(sandbox_app, lapsed, http, localstripe_url)
    first, second = requests_of(sandbox_app, lapsed.id, "reauthorize")
    assert (first.status, second.status) == ("failed", "succeeded")
    assert second.idempotency_key.endswith("-2")


# -- two clicks at once (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres
def test_concurrent_reauthorize_clicks_make_one_payment_intent(
    database_url, sandbox_app, lapsed, make_user, http, localstripe_url
):
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "PostgreSQL only: SQLite admits one writer at a time, so there is no race"
            if TEST_DATABASE_URL
            else "needs PostgreSQL: set TEST_DATABASE_URL to run the race tests"
        )
    ids = [make_user(Role.STAFF, f"re{n}@shop.example", quick_hash=True).id for n in range(4)]
    barrier = threading.Barrier(len(ids))
    outcomes: list[Any] = [None] * len(ids)

    def run(index: int) -> None:
        with sandbox_app.app_context():
            actor = db.session.get(User, ids[index])
            db.session.commit()
            try:
                barrier.wait(timeout=10)
                outcomes[index] = renewal.reauthorize(lapsed.id, actor)
                db.session.commit()
            except ActionRefused as refused:
                db.session.rollback()
                outcomes[index] = refused
            except Exception as error:  # reported below, not lost in the thread
                db.session.rollback()
                outcomes[index] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    won = [o for o in outcomes if isinstance(o, ActionResult) and o.ok]
    refused = [o for o in outcomes if isinstance(o, ActionRefused)]
    assert (len(won), len(refused)) == (1, len(ids) - 1), outcomes
    for each in refused:
        assert "still waiting for Stripe" in each.message or "not within" in each.message
    assert_one_new_hold(sandbox_app, lapsed, http, localstripe_url)
    (row,) = requests_of(sandbox_app, lapsed.id, "reauthorize")
    assert row.status == "succeeded"
