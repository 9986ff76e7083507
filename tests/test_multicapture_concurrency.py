"""Two staff members confirm a capture of part of the same multicapture hold at the same
instant (or a partial capture and "release the rest"): Stripe is asked once.

PostgreSQL only, as tests/test_payments_concurrency.py: the guards are the order's row lock,
the one-in-flight partial unique index, and, because a partly captured order stays partly
captured, the hold staff confirmed compared under the lock. Stripe's answers come from the
double at the SDK's HTTP boundary.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Role, StripeRequest, User
from dashboard.services.payments import staff
from dashboard.services.payments.results import ActionRefused, ActionResult
from tests.support.database import TEST_DATABASE_URL, reload
from tests.support.holds import PI, grant
from tests.support.stripe import AMOUNT
from tests.test_payments_concurrency import race

pytestmark = pytest.mark.postgres
RACES = 5


@pytest.fixture
def live_app(database_url, live_app):
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "PostgreSQL only: SQLite admits one writer at a time, so there is no race"
            if TEST_DATABASE_URL
            else "needs PostgreSQL: set TEST_DATABASE_URL to run the race tests"
        )
    return live_app


@pytest.fixture
def staff_ids(make_user) -> list[int]:
    return [make_user(Role.STAFF, f"staff{n}@shop.example", quick_hash=True).id for n in (1, 2)]


@pytest.fixture
def granted_order(live_app, stripe_http, signed_in, make_order):
    def make():
        order = make_order(
            state="authorized",
            stripe_payment_intent_id=PI,
            amount_authorized=AMOUNT,
            amount_capturable=AMOUNT,
        )
        grant(live_app, stripe_http, signed_in(Role.STAFF, quick_hash=True), order.id)
        return order

    return make


def part(order_id: int, actor: User) -> ActionResult:
    return staff.capture_part(order_id, 1000, actor, held=AMOUNT)


def release(order_id: int, actor: User) -> ActionResult:
    return staff.release_rest(order_id, actor)


def money_requests(app, order_id: int) -> list[StripeRequest]:
    with app.app_context():
        rows = db.session.scalars(
            select(StripeRequest).where(
                StripeRequest.order_id == order_id,
                StripeRequest.action.in_(("partial_capture", "capture", "release")),
            )
        ).all()
        db.session.expunge_all()
        return list(rows)


@pytest.mark.parametrize("attempt", range(RACES))
def test_two_partial_capture_clicks_at_once_capture_once(
    live_app, stripe_http, granted_order, staff_ids, attempt
):
    order = granted_order()
    sent = len(stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture"))
    outcomes = race(live_app, order.id, [part, part], staff_ids)
    won = [o for o in outcomes if isinstance(o, ActionResult) and o.ok]
    lost = [o for o in outcomes if isinstance(o, ActionRefused)]
    assert (len(won), len(lost)) == (1, 1), outcomes
    assert len(stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")) - sent == 1
    assert len(money_requests(live_app, order.id)) == 1
    after = reload(live_app, order.id)
    assert (after.state, after.amount_captured, after.amount_capturable) == (
        "partly_captured",
        1000,
        2000,
    )


def test_a_partial_capture_and_a_release_at_once_send_one_of_them(
    live_app, stripe_http, granted_order, staff_ids
):
    order = granted_order()
    staff_one = staff_ids[0]
    with live_app.app_context():
        actor = db.session.get(User, staff_one)
        staff.capture_part(order.id, 500, actor, held=AMOUNT)
        db.session.commit()
    before = len(stripe_http.calls)
    outcomes = race(
        live_app,
        order.id,
        [lambda oid, who: staff.capture_part(oid, 1000, who, held=2500), release],
        staff_ids,
    )
    assert sum(isinstance(o, ActionResult) and o.ok for o in outcomes) >= 1, outcomes
    moving = [c for c in stripe_http.calls[before:] if c.method == "POST"]
    # Both may go through one after the other (a capture, then the release of the rest), but
    # never at once: each request waited for the other's answer.
    rows = money_requests(live_app, order.id)
    assert len(moving) == len([r for r in rows if r.status == "succeeded"]) - 1
    after = reload(live_app, order.id)
    assert after.amount_captured in (500, 1500)
