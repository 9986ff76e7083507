"""Two staff members act on the same hold at the same instant: Stripe is asked once.

PostgreSQL only: the guard under test is the order row lock (SELECT ... FOR UPDATE) plus the
one-in-flight partial unique index, taken by concurrent transactions. SQLite lets one
writer in at a time, so it has no race to show. Everything is real: the services, the
gateway, localstripe; the HTTP client only counts what reaches localstripe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Role, StripeRequest, User
from dashboard.services.payments import staff
from dashboard.services.payments.results import ActionInProgress, ActionRefused, ActionResult
from tests.support.app import serve
from tests.support.database import TEST_DATABASE_URL, reload
from tests.support.faults import faulty_gateway
from tests.support.localstripe import stripe_pi
from tests.support.web import HTMX, PASSWORD, confirmation_in, csrf_token_in

pytestmark = pytest.mark.postgres

IN_PROGRESS = "Another action on this order is still waiting for Stripe. Nothing new was sent."
# What the loser hears when the winner had already finished before it looked.
ALREADY = re.compile(r"^An order that is (captured|voided) cannot be (captured|voided)\.$")
RACES = 5


@pytest.fixture
def sandbox_app(database_url, sandbox_app, localstripe_url, http):
    """Here the sandbox app, on PostgreSQL only, reaches localstripe through FaultyHTTP,
    which counts what arrives there; so do its holds."""
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "PostgreSQL only: SQLite admits one writer at a time, so there is no race"
            if TEST_DATABASE_URL
            else "needs PostgreSQL: set TEST_DATABASE_URL to run the race tests"
        )
    sandbox_app.extensions["stripe_gateway"] = faulty_gateway(localstripe_url, http)
    return sandbox_app


@pytest.fixture
def staff_ids(make_user) -> list[int]:
    """Signing in is not what these tests are about: quick hashes of the password."""
    return [make_user(Role.STAFF, f"staff{n}@shop.example", quick_hash=True).id for n in (1, 2)]


Action = Callable[[int, User], ActionResult]


def capture(order_id: int, actor: User) -> ActionResult:
    return staff.capture_hold(order_id, 2500, actor)


def void(order_id: int, actor: User) -> ActionResult:
    return staff.void_hold(order_id, "requested_by_customer", actor)


def race(app, order_id: int, actions: list[Action], staff_ids: list[int]) -> list[Any]:
    """Run the actions in threads released together; each returns a result or a refusal."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(index: int, action: Action) -> None:
        with app.app_context():
            actor = db.session.get(User, staff_ids[index])
            db.session.commit()  # no transaction held open while waiting at the barrier
            try:
                barrier.wait(timeout=10)
                outcomes[index] = action(order_id, actor)
                db.session.commit()
            except ActionRefused as refused:
                db.session.rollback()
                outcomes[index] = refused
            except Exception as error:  # reported by the test, not lost in the thread
                db.session.rollback()
                outcomes[index] = error

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    return outcomes


def money_requests(app, order_id: int) -> list[StripeRequest]:
    with app.app_context():
        rows = db.session.scalars(
            select(StripeRequest)
            .where(
                StripeRequest.order_id == order_id,
                StripeRequest.action.in_(("capture", "void", "refund")),
            )
            .order_by(StripeRequest.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def winner_and_loser(outcomes: list[Any]) -> tuple[ActionResult, ActionRefused]:
    won = [o for o in outcomes if isinstance(o, ActionResult) and o.ok]
    lost = [o for o in outcomes if isinstance(o, ActionRefused)]
    assert (len(won), len(lost)) == (1, 1), outcomes
    refused = lost[0]
    assert refused.message == IN_PROGRESS or ALREADY.match(refused.message), refused.message
    if isinstance(refused, ActionInProgress):
        assert refused.message == IN_PROGRESS
    return won[0], refused


def test_two_captures_at_once_capture_once(
    sandbox_app, place_hold, staff_ids, http, localstripe_url
):
    refusals = []
    for _ in range(RACES):
        order = place_hold()
        pi = order.stripe_payment_intent_id
        outcomes = race(sandbox_app, order.id, [capture, capture], staff_ids)

        won, refused = winner_and_loser(outcomes)
        refusals.append(type(refused))
        assert won.message == "Captured $25.00."
        assert http.reached("POST", f"/{pi}/capture") == 1
        assert stripe_pi(localstripe_url, pi)["status"] == "succeeded"
        (row,) = money_requests(sandbox_app, order.id)
        assert (row.action, row.status, row.amount) == ("capture", "succeeded", 2500)
        after = reload(sandbox_app, order.id)
        assert (after.state, after.amount_captured, after.amount_capturable) == (
            "captured",
            2500,
            0,
        )
    # The loser arrives while the winner's request is still out at Stripe nearly every time.
    assert ActionInProgress in refusals, refusals


def test_capture_against_void_one_wins(sandbox_app, place_hold, staff_ids, http, localstripe_url):
    winners = []
    for n in range(RACES):
        order = place_hold()
        pi = order.stripe_payment_intent_id
        actions = [capture, void] if n % 2 == 0 else [void, capture]
        won, _refused = winner_and_loser(race(sandbox_app, order.id, actions, staff_ids))

        (row,) = money_requests(sandbox_app, order.id)
        assert row.status == "succeeded"
        winners.append(row.action)
        after = reload(sandbox_app, order.id)
        at_stripe = stripe_pi(localstripe_url, pi)["status"]
        sent = http.reached("POST", f"/{pi}/capture"), http.reached("POST", f"/{pi}/cancel")
        if row.action == "capture":
            assert won.message == "Captured $25.00."
            assert (at_stripe, after.state, after.amount_captured, sent) == (
                "succeeded",
                "captured",
                2500,
                (1, 0),
            )
        else:
            assert won.message == "The hold was released; nothing was charged."
            assert (at_stripe, after.state, after.amount_captured, sent) == (
                "canceled",
                "voided",
                0,
                (0, 1),
            )


# -- the same race through a real HTTP server and two browsers ------------------------------


def _browser(base: str, email: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=10).text
    signed = browser.post(
        f"{base}/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token_in(page)},
        allow_redirects=False,
        timeout=10,
    )
    assert signed.status_code == 302, signed.text
    return browser


def test_two_browsers_click_capture_at_once(
    sandbox_app, place_hold, staff_ids, http, localstripe_url
):
    with serve(sandbox_app) as base:
        _click_twice(sandbox_app, base, place_hold, http, localstripe_url)


def _click_twice(sandbox_app, base, place_hold, http, localstripe_url):
    browsers = [_browser(base, f"staff{n}@shop.example") for n in (1, 2)]
    try:
        order = place_hold()
        pi = order.stripe_payment_intent_id
        confirmations = []
        for browser in browsers:
            page = browser.get(f"{base}/orders/{order.id}", timeout=10).text
            assert 'id="capture-form"' in page
            asked = browser.post(
                f"{base}/orders/{order.id}/capture",
                data={"amount": "25.00", "csrf_token": csrf_token_in(page)},
                headers=HTMX,
                timeout=30,
            )
            confirmation = confirmation_in(asked.text)  # the dialog each of them sees
            assert confirmation is not None, asked.text
            confirmations.append(confirmation)
        assert http.reached("POST", f"/{pi}/capture") == 0  # asking moved nothing
        barrier = threading.Barrier(2)
        answers: list[Any] = [None, None]

        def click(index: int) -> None:
            """Both confirm the capture at the same instant."""
            action, fields = confirmations[index]
            barrier.wait(timeout=10)
            answers[index] = browsers[index].post(
                base + action, data=fields, headers=HTMX, timeout=30
            )

        clicks = [threading.Thread(target=click, args=(n,)) for n in (0, 1)]
        for thread in clicks:
            thread.start()
        for thread in clicks:
            thread.join(timeout=30)
        assert all(isinstance(a, requests.Response) for a in answers), answers
        by_status = sorted(answers, key=lambda a: a.status_code)
        assert [a.status_code for a in by_status] == [200, 409]
        assert "Captured $25.00." in by_status[0].text
        loser = by_status[1].text
        assert IN_PROGRESS in loser or "cannot be captured" in loser
        assert http.reached("POST", f"/{pi}/capture") == 1
        assert stripe_pi(localstripe_url, pi)["status"] == "succeeded"
        (row,) = money_requests(sandbox_app, order.id)
        assert (row.action, row.status) == ("capture", "succeeded")
        assert reload(sandbox_app, order.id).state == "captured"
    finally:
        for browser in browsers:
            browser.close()
