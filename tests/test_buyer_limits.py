"""A buyer's pages cannot spend the merchant's Stripe rate limit: the return page re-reads an
order at most once per interval (in every worker), and a pay link or an address reaches
Stripe only so often per window, then gets the pay page with a plain message (429).

Stripe's calls are counted where they leave: at the SDK's HTTP boundary, in the double of
tests/support/stripe.py. No assertion reads a clock: the intervals are set far longer than
a test runs, or to zero.
"""

from __future__ import annotations

import re

import pytest

from dashboard import create_app
from dashboard.extensions import db
from dashboard.payments.stripe_gateway import StripeGateway
from tests.support.app import base_config
from tests.support.database import reload
from tests.support.stripe import TEST_KEY
from tests.support.web import pay_link, post_form

HOUR = 3600
AUTHORIZED = (
    "$25.00 is on hold on your card; you will be charged when the merchant confirms your order."
)


def limits(app, *, interval=HOUR, per_link=1000, per_address=1000):
    app.config.update(
        PAY_REREAD_INTERVAL=interval,
        PAY_STRIPE_CALL_WINDOW=HOUR,
        PAY_STRIPE_CALLS_PER_LINK=per_link,
        PAY_STRIPE_CALLS_PER_ADDRESS=per_address,
    )


def paid_through_checkout(app, stripe_http, make_order):
    """An order whose buyer has paid on Stripe's Checkout page and not yet come back, and
    the pay link they used (a link made a second later is another link, counted apart)."""
    order = make_order()
    link = pay_link(app, order.id)
    assert post_form(app.test_client(), f"{link}/checkout").status_code == 303
    session = stripe_http.sessions[max(stripe_http.sessions)]
    stripe_http.complete(session["id"], payment_status="unpaid")
    return order, session, link


def reads(stripe_http, since):
    return [(m, p) for m, p in stripe_http.trace(since) if m == "GET"]


def test_twenty_visits_to_the_return_page_re_read_stripe_once(live_app, stripe_http, make_order):
    """Issue 12, item 13: 20 anonymous requests made 20 API calls."""
    limits(live_app)
    order, session, link = paid_through_checkout(live_app, stripe_http, make_order)
    since = len(stripe_http.calls)
    done = f"{link}/done?session_id={session['id']}"

    pages = [live_app.test_client().get(done) for _ in range(20)]

    assert [page.status_code for page in pages] == [200] * 20
    assert all(AUTHORIZED in page.get_data(as_text=True) for page in pages)
    intent_id = reload(live_app, order.id).stripe_payment_intent_id
    assert stripe_http.trace(since) == [  # one re-read: the Session, then its PaymentIntent
        ("GET", f"/v1/checkout/sessions/{session['id']}"),
        ("GET", f"/v1/payment_intents/{intent_id}"),
    ]


@pytest.fixture
def second_worker(live_app, database_url, stripe_http, tmp_path):
    """Another worker: an app of its own (no memory shared) on the same database and Stripe."""
    other = create_app(base_config(database_url), instance_path=str(tmp_path / "worker-2"))
    other.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=stripe_http, max_network_retries=0
    )
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_interval_holds_across_workers(live_app, second_worker, stripe_http, make_order):
    limits(live_app)
    limits(second_worker)
    _, session, link = paid_through_checkout(live_app, stripe_http, make_order)
    done = f"{link}/done?session_id={session['id']}"
    since = len(stripe_http.calls)

    first = live_app.test_client().get(done)
    second = second_worker.test_client().get(done)

    assert AUTHORIZED in first.get_data(as_text=True)
    assert AUTHORIZED in second.get_data(as_text=True)
    assert len(reads(stripe_http, since)) == 2  # the one re-read of the first worker


def test_once_the_interval_is_over_the_page_re_reads_again(live_app, stripe_http, make_order):
    limits(live_app, interval=0)
    order, _, link = paid_through_checkout(live_app, stripe_http, make_order)
    done = f"{link}/done"
    live_app.test_client().get(done)
    since = len(stripe_http.calls)
    live_app.test_client().get(done)
    live_app.test_client().get(done)
    intent_id = reload(live_app, order.id).stripe_payment_intent_id
    assert reads(stripe_http, since) == [("GET", f"/v1/payment_intents/{intent_id}")] * 2


def test_one_pay_link_reaches_stripe_only_so_often(live_app, stripe_http, make_order):
    limits(live_app, interval=0, per_link=3)
    order, _, link = paid_through_checkout(live_app, stripe_http, make_order)
    done = f"{link}/done"
    since = len(stripe_http.calls)

    pages = [live_app.test_client().get(done) for _ in range(6)]

    # The checkout click was the link's first call; the return page gets the other two.
    assert [page.status_code for page in pages] == [200, 200, 429, 429, 429, 429]
    assert len(reads(stripe_http, since)) == 3  # the Session and its PaymentIntent, then one
    limited = pages[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= HOUR
    page = limited.get_data(as_text=True)
    assert f"<h1>Order #{order.id}</h1>" in page  # the pay page itself
    message = re.search(r'id="pay-message">([^<]*)<', page).group(1)
    assert message.startswith("This page has checked your payment many times")
    assert AUTHORIZED in page  # with the last status it knows


def test_one_address_reaches_stripe_only_so_often_whatever_the_link(
    live_app, stripe_http, make_order
):
    limits(live_app, interval=0, per_address=4)
    paid = [paid_through_checkout(live_app, stripe_http, make_order)[0] for _ in range(2)]
    # Two checkout clicks from 127.0.0.1 were two of its four calls.
    here = live_app.test_client()
    answers = [here.get(f"{pay_link(live_app, order.id)}/done").status_code for order in paid]
    assert answers == [200, 200]
    assert here.get(f"{pay_link(live_app, paid[0].id)}/done").status_code == 429
    elsewhere = live_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    since = len(stripe_http.calls)
    assert elsewhere.get(f"{pay_link(live_app, paid[0].id)}/done").status_code == 200
    assert len(reads(stripe_http, since)) == 1


def test_payment_steps_count_too_and_say_so_on_the_pay_page(live_app, stripe_http, make_order):
    limits(live_app, per_link=2)
    order = make_order()
    link = pay_link(live_app, order.id)
    buyer = live_app.test_client()
    for _ in range(2):
        assert post_form(buyer, f"{link}/checkout").status_code == 303
    since = len(stripe_http.calls)

    refused = post_form(buyer, f"{link}/checkout")

    assert (refused.status_code, refused.headers["Location"]) == (303, link)
    assert stripe_http.calls[since:] == []  # nothing sent
    page = buyer.get(link).get_data(as_text=True)
    assert "too many payment attempts from here in a short time" in page
    assert 'id="pay-button"' in page


def test_a_page_with_nothing_to_read_asks_stripe_nothing(live_app, stripe_http, make_order):
    limits(live_app, interval=0, per_link=1)
    order = make_order()
    for _ in range(3):
        page = live_app.test_client().get(f"{pay_link(live_app, order.id)}/done")
        assert page.status_code == 200
        assert "Not paid yet." in page.get_data(as_text=True)
    assert stripe_http.calls == []
