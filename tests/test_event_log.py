"""The event log, the webhook health panel, the order timeline's details and dispute flags.

Every event here reaches the app as Stripe sends it: signed, POSTed to the real endpoint,
built around Stripe's published example objects (tests/fixtures/stripe).
"""

import html
import re
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import update

from dashboard.extensions import db
from dashboard.models import EventStatus, Role, StripeEvent
from dashboard.payments.stripe_gateway import StripeGateway
from tests.support.app import serve
from tests.support.database import reload, stored_events
from tests.support.stripe import TEST_KEY, WEBHOOK_SECRET, send_event, stripe_event, stripe_example
from tests.support.web import HOSTILE, HTMX, move_money, post_form

SECRET_FRAGMENT = "_secret_h5EkobjXWLvrU8iWiSmSgifBy"  # in Stripe's example PaymentIntent
SHORT_HOSTILE = "<script>alert('x')</script>"


def intent_for(order_id, **changes):
    """Stripe's example PaymentIntent, for our order."""
    obj = stripe_example("payment_intent")
    obj.update(metadata={"order_id": str(order_id)}, **changes)
    return obj


@dataclass(frozen=True)
class Delivered:
    status_code: int  # our endpoint's answer: 2xx once stored
    json: dict
    status: str  # what became of the stored event once applied


def deliver(client, type_, obj, **kw):
    """Send one signed event; return it (as sent), our endpoint's answer and what the
    stored event became once applied (`send_event` runs the applier)."""
    event = stripe_event(type_, obj, **kw)
    answer = send_event(client, event)
    status = row_of(client.application, event["id"]).status if answer.status_code < 300 else ""
    return event, Delivered(answer.status_code, answer.json, status)


def row_of(app, event_id):
    (row,) = [row for row in stored_events(app) if row.event_id == event_id]
    return row


def page(client, path, **kw):
    response = client.get(path, **kw)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def listed(client, **query):
    """The Stripe event ids on the event log page for these filters, in page order."""
    text = page(client, "/events", query_string=query)
    return re.findall(
        r'<tr class="event-row[^"]*" id="event-\d+">\s*<td><a [^>]*><code>([^<]+)', text
    )


def failing_checkout(order_id, payment_intent="pi_test_checkout_1"):
    """checkout.session.completed: applying it re-reads its PaymentIntent from Stripe."""
    session = stripe_example("checkout_session")
    session.update(
        status="complete",
        payment_status="unpaid",
        payment_intent=payment_intent,
        client_reference_id=str(order_id),
        metadata={"order_id": str(order_id)},
    )
    return session


@pytest.fixture
def events(app, make_order):
    """Two orders and one event of each outcome, sent through the webhook endpoint."""
    stripe = app.test_client()
    first, second = make_order(), make_order(buyer_email="other@example.com")
    sent = {}
    sent["first"], _ = deliver(stripe, "payment_intent.requires_action", intent_for(first.id))
    sent["second"], _ = deliver(
        stripe, "payment_intent.processing", intent_for(second.id, id="pi_test_second")
    )
    sent["unmatched"], answer = deliver(
        stripe, "payment_intent.processing", intent_for(999999, id="pi_test_nobody")
    )
    assert answer.status == "unmatched"
    # A status the mapping table does not know is a genuine processing failure.
    sent["failed"], answer = deliver(
        stripe,
        "payment_intent.processing",
        intent_for(second.id, id="pi_test_second", status="bogus_status"),
    )
    assert answer.status_code == 200 and answer.status == "failed"  # stored: 2xx
    sent["ignored"], answer = deliver(
        stripe, "product.created", {"object": "product", "id": "prod_1"}
    )
    assert answer.status == "ignored"
    return first, second, sent


# -- the list: filters, search, tabs, pages ----------------------------------------------


def test_log_lists_every_event_newest_first_with_failed_and_unmatched_counted(signed_in, events):
    _, _, sent = events
    client = signed_in(Role.SUPPORT)
    order = ["ignored", "failed", "unmatched", "second", "first"]
    assert listed(client) == [sent[name]["id"] for name in order]
    text = page(client, "/events")
    assert re.search(r'id="count-failed">1<', text)
    assert re.search(r'id="count-unmatched">1<', text)
    assert "No order matches metadata order_id 999999" in text
    assert "UnmappedStatus" in text  # a failure's error is on its row
    assert listed(client, status="failed") == [sent["failed"]["id"]]
    assert listed(client, status="unmatched") == [sent["unmatched"]["id"]]
    assert listed(client, status="applied", type="product.created") == []


def test_filter_by_type_and_status(signed_in, events):
    _, _, sent = events
    client = signed_in(Role.SUPPORT)
    assert listed(client, type="payment_intent.processing") == [
        sent[name]["id"] for name in ("failed", "unmatched", "second")
    ]
    assert listed(client, type="product.created", status="ignored") == [sent["ignored"]["id"]]
    assert listed(client, type="charge.refunded") == []
    options = page(client, "/events")
    assert '<option value="payment_intent.processing"' in options


def test_the_status_filter_offers_every_status_and_keeps_the_chosen_one(signed_in, events):
    client = signed_in(Role.SUPPORT)
    for chosen in EventStatus:
        text = page(client, "/events", query_string={"status": chosen.value})
        select = re.search(r'<select name="status".*?</select>', text, re.S).group(0)
        options = re.findall(r'<option value="(\w*)" ?(selected)?>', select)
        assert [value for value, _ in options] == ["", *(status.value for status in EventStatus)]
        assert [value for value, selected in options if selected] == [chosen.value]


def test_search_by_event_id_payment_intent_and_order_number(signed_in, events):
    first, second, sent = events
    client = signed_in(Role.SUPPORT)
    assert listed(client, q=sent["unmatched"]["id"]) == [sent["unmatched"]["id"]]
    assert listed(client, q="pi_test_second") == [sent["failed"]["id"], sent["second"]["id"]]
    assert listed(client, q="pi_test_nobody") == [sent["unmatched"]["id"]]
    assert listed(client, q=str(first.id)) == [sent["first"]["id"]]
    # The failed event never reached its order; only the processed one is linked to #2.
    assert listed(client, q=f"#{second.id}") == [sent["second"]["id"]]
    assert listed(client, q="prod_1") == [sent["ignored"]["id"]]  # any other Stripe object id
    assert listed(client, q="evt_does_not_exist") == []
    assert listed(client, q="99999999999999") == []
    assert listed(client, q="pi_test", status="unmatched") == []  # ids match whole


def test_search_by_a_buyers_email_lists_the_events_of_their_orders(signed_in, events):
    _, second, sent = events
    client = signed_in(Role.SUPPORT)
    theirs = listed(client, q=f"#{second.id}")
    assert theirs == [sent["second"]["id"]]
    assert listed(client, q="other@example.com") == theirs
    assert listed(client, q="OTHER@Example.com") == theirs  # emails are kept lower-case
    assert listed(client, q="other@") == theirs  # the start of one, as the order list takes
    assert listed(client, q="nobody@example.com") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "bogus"}, "no event status called"),
        ({"type": "<script>"}, "lower-case words joined by dots"),
        ({"type": "Payment Intent"}, "lower-case words joined by dots"),
        ({"q": "hello world"}, "Search by an event id"),
        ({"q": "<b>x</b>"}, "Search by an event id"),
        ({"older_than": "abc"}, "cursor"),
        ({"newer_than": "-1"}, "cursor"),
    ],
)
def test_bad_filters_get_a_clear_400(signed_in, query, message):
    response = signed_in(Role.SUPPORT).get("/events", query_string=query)
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))


def test_pages_walk_older_and_newer(app, signed_in, make_order):
    app.config["EVENTS_PER_PAGE"] = 2
    order = make_order()
    stripe = app.test_client()
    ids = [
        deliver(stripe, "payment_intent.requires_action", intent_for(order.id))[0]["id"]
        for _ in range(5)
    ]
    newest_first = ids[::-1]
    client = signed_in(Role.SUPPORT)
    first = page(client, "/events")
    assert listed(client) == newest_first[:2]
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    second = page(client, html.unescape(older))
    assert re.findall(r"<code>(evt_[^<]+)</code></a>", second) == newest_first[2:4]
    newer = re.search(r'href="([^"]+)" rel="prev"', second).group(1)
    back = page(client, html.unescape(newer))
    assert re.findall(r"<code>(evt_[^<]+)</code></a>", back) == newest_first[:2]
    assert 'rel="prev"' not in back
    last = page(client, html.unescape(re.search(r'href="([^"]+)" rel="next"', second).group(1)))
    assert re.findall(r"<code>(evt_[^<]+)</code></a>", last) == newest_first[4:]
    assert 'rel="next"' not in last
    # Filters travel with the cursor.
    filtered = page(client, "/events", query_string={"type": "payment_intent.requires_action"})
    assert "type=payment_intent.requires_action" in re.search(
        r'href="([^"]+)" rel="next"', filtered
    ).group(1)


def test_htmx_gets_only_the_rows(signed_in, events):
    response = signed_in(Role.SUPPORT).get("/events?status=failed", headers=HTMX)
    text = response.get_data(as_text=True)
    assert "<table" in text and "event-row" in text
    assert "<html" not in text and "webhook-health" not in text


# -- one event ----------------------------------------------------------------------------


def test_event_page_shows_every_field_error_and_traceback(app, signed_in, events):
    _, second, sent = events
    failed = row_of(app, sent["failed"]["id"])
    text = page(signed_in(Role.SUPPORT), f"/events/{failed.id}")
    assert sent["failed"]["id"] in text
    assert "payment_intent.processing" in text
    assert 'id="event-deliveries">1<' in text
    assert "UnmappedStatus" in html.unescape(text)
    assert "bogus_status" in text
    assert re.search(r'<pre class="traceback" id="event-traceback">[^<]*reconcile\.py:\d+', text)
    assert "2026-10-28.endive" in text  # the API version the event was sent with
    applied = row_of(app, sent["second"]["id"])
    text = page(signed_in(Role.STAFF), f"/events/{applied.id}")
    assert f'href="/orders/{second.id}"' in text
    assert "Reprocess" not in text  # only for events that still need it


def test_raw_json_is_pretty_redacted_and_links_to_stripe_test_dashboard(app, signed_in, make_order):
    order = make_order()
    sent, _ = deliver(app.test_client(), "payment_intent.requires_action", intent_for(order.id))
    row = row_of(app, sent["id"])
    client = signed_in(Role.SUPPORT)
    for text in (page(client, f"/events/{row.id}"), page(client, f"/events/{row.id}/raw")):
        assert SECRET_FRAGMENT not in text
        assert "&#34;client_secret&#34;: &#34;[redacted]&#34;" in text
        assert "\n  &#34;type&#34;: &#34;payment_intent.requires_action&#34;" in text  # indented
        assert f'href="https://dashboard.stripe.com/test/events/{sent["id"]}"' in text
        assert (
            'href="https://dashboard.stripe.com/test/payments/pi_1NnlpVGPxmnHQRkJNuz3w9tH"' in text
        )
    assert "<html" not in page(client, f"/events/{row.id}/raw")
    assert client.get("/events/999999/raw").status_code == 404


def test_live_events_link_to_the_live_dashboard(app, signed_in, make_order):
    order = make_order()
    obj = intent_for(order.id, id="pi_live_1", livemode=True)
    sent, answer = deliver(app.test_client(), "payment_intent.requires_action", obj, livemode=True)
    assert answer.status == "ignored"  # a live event at a test-mode dashboard
    row = row_of(app, sent["id"])
    text = page(signed_in(Role.SUPPORT), f"/events/{row.id}/raw")
    assert f'href="https://dashboard.stripe.com/events/{sent["id"]}"' in text
    assert 'href="https://dashboard.stripe.com/payments/pi_live_1"' in text
    assert "dashboard.stripe.com/test/" not in text
    assert "(live)" in text


# -- hostile text -------------------------------------------------------------------------


def assert_escaped(text, where):
    assert "<script>" not in text, where
    assert "<img src=x" not in text, where
    assert "onerror='" not in text, where


def test_hostile_payload_text_is_escaped_everywhere(app, signed_in, make_order):
    dispute = stripe_example("dispute")
    order = make_order(stripe_charge_id=dispute["charge"])
    big = "<b>" * 40_000
    dispute.update(
        metadata={"note": HOSTILE, "big": big},
        evidence={**dispute["evidence"], "uncategorized_text": HOSTILE},
    )
    sent, answer = deliver(app.test_client(), "charge.dispute.created", dispute)
    assert answer.status == "applied"
    # A reason that is not one of Stripe's words is not taken as the dispute's reason.
    hostile_reason, _ = deliver(
        app.test_client(), "charge.dispute.updated", {**dispute, "reason": SHORT_HOSTILE}
    )
    # Text a sender controls that does reach the log: an order id nobody has.
    orphan, answer = deliver(
        app.test_client(),
        "payment_intent.processing",
        {**stripe_example("payment_intent"), "metadata": {"order_id": SHORT_HOSTILE}},
    )
    assert answer.status == "unmatched"
    # An event type that is not Stripe's is refused before it is stored.
    _, odd = deliver(
        app.test_client(), "<img src=x onerror='alert(1)'>", {"object": "x", "id": "x_1"}
    )
    assert odd.status_code == 400
    row = row_of(app, sent["id"])
    client = signed_in(Role.SUPPORT)

    log = page(client, "/events")
    assert_escaped(log, "event log")
    assert "dispute dp_1NnmX5GPxmnHQRkJhLm6FrCK opened" in log
    assert "(general)" in log
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in log  # the order id, escaped
    assert len(log) < 60_000  # the list never prints payloads

    raw = page(client, f"/events/{row.id}/raw")
    detail = page(client, f"/events/{row.id}")
    for where, text in (("raw", raw), ("detail", detail)):
        assert_escaped(text, where)
        assert "&lt;script&gt;alert(\\&#34;x\\&#34;)&lt;/script&gt;" in text, where
        assert "&lt;b&gt;" * 40_000 in text, where  # the big string, whole and escaped
        # Invisible characters are shown as escapes, never left to reorder the text.
        assert "\u202e" not in text and "\u200b" not in text and "\x1b" not in text, where
        assert "\\u202egnp.exe\\u200b\\u001b[31m" in text, where
    assert_escaped(page(client, f"/events/{row_of(app, orphan['id']).id}"), "orphan page")
    assert_escaped(page(client, f"/events/{row_of(app, hostile_reason['id']).id}"), "reason")

    timeline = page(client, f"/orders/{order.id}")
    assert_escaped(timeline, "order page")
    assert "<b><b>" not in timeline


# -- reprocess ----------------------------------------------------------------------------


def test_staff_reprocess_a_failed_event_once_stripe_is_reachable(
    app, signed_in, make_order, stripe_http
):
    order = make_order()
    sent, answer = deliver(
        app.test_client(), "checkout.session.completed", failing_checkout(order.id)
    )
    assert answer.status_code == 200  # stored; its processing failed after the answer
    row = row_of(app, sent["id"])
    assert row.status == "failed"
    assert "No Stripe secret key is configured" in row.error

    support = signed_in(Role.SUPPORT)
    assert "Reprocess" not in page(support, f"/events/{row.id}")
    assert post_form(support, f"/events/{row.id}/reprocess").status_code == 403

    staff = signed_in(Role.STAFF)
    assert "Reprocess" in page(staff, f"/events/{row.id}")
    response = post_form(staff, f"/events/{row.id}/reprocess")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/events/{row.id}"
    text = page(staff, response.headers["Location"])
    assert f"Event {sent['id']} failed again: StripeConfigurationError" in text
    assert row_of(app, sent["id"]).process_count == 2

    # The key is configured; Stripe says the buyer's card is on hold.
    app.config.update(STRIPE_SECRET_KEY=TEST_KEY)
    app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=stripe_http, max_network_retries=0
    )
    stripe_http.intents["pi_test_checkout_1"] = intent_for(
        order.id,
        id="pi_test_checkout_1",
        amount=2500,
        amount_capturable=2500,
        capture_method="manual",
        status="requires_capture",
    )
    response = post_form(staff, f"/events/{row.id}/reprocess", headers=HTMX)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert '<section class="card" id="event-status"' in text
    assert f"Event {sent['id']} reprocessed: applied (Open → Authorized)" in text
    assert 'id="event-state" hx-swap-oob="true"' in text
    assert "Reprocess</button>" not in text
    assert row_of(app, sent["id"]).status == "applied"
    assert reload(app, order.id).state == "authorized"
    assert stripe_http.trace() == [("GET", "/v1/payment_intents/pi_test_checkout_1")]

    # An applied event is never applied twice: the button answers that nothing was done.
    response = post_form(staff, f"/events/{row.id}/reprocess", follow_redirects=True)
    assert f"Event {sent['id']} is already applied: nothing was done." in response.get_data(
        as_text=True
    )
    assert row_of(app, sent["id"]).process_count == 3
    assert len(stripe_http.calls) == 1


def test_reprocess_an_unmatched_event_says_it_still_matches_nothing(app, signed_in):
    sent, _ = deliver(app.test_client(), "payment_intent.processing", intent_for(424242))
    row = row_of(app, sent["id"])
    admin = signed_in(Role.ADMIN)
    response = post_form(admin, f"/events/{row.id}/reprocess", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "still matches no order. No order matches metadata order_id 424242" in text
    assert 'class="flash flash-error"' in text
    assert post_form(admin, "/events/999999/reprocess").status_code == 404


def test_reprocess_from_the_list_for_failed_events(signed_in, events):
    client = signed_in(Role.STAFF)
    rows = page(client, "/events", query_string={"status": "failed"})
    assert 'action="/events/' in rows and "Reprocess</button>" in rows
    support_rows = page(signed_in(Role.SUPPORT), "/events", query_string={"status": "failed"})
    assert "Reprocess</button>" not in support_rows


def test_staff_may_reprocess_pending_failed_and_unmatched_events_only(app, signed_in, events):
    first, _, sent = events
    hold = intent_for(
        first.id,
        amount=2500,
        amount_capturable=2500,
        capture_method="manual",
        status="requires_capture",
    )
    _, answer = deliver(app.test_client(), "payment_intent.amount_capturable_updated", hold)
    assert answer.status == "applied"
    with app.app_context():  # its worker died before it finished: left pending
        db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.event_id == sent["second"]["id"])
            .values(status="pending")
        )
        db.session.commit()
    staff = signed_in(Role.STAFF)
    rows = re.findall(
        r'<tr class="event-row status-(\w+)" id="event-(\d+)">(.*?)</tr>',
        page(staff, "/events"),
        re.S,
    )
    reprocessable = {"pending", "failed", "unmatched"}
    assert {status for status, _, _ in rows} == reprocessable | {"applied", "ignored"}
    for status, row_id, body in rows:
        expected = status in reprocessable
        assert ("Reprocess</button>" in body) is expected, status
        assert ("Reprocess</button>" in page(staff, f"/events/{row_id}")) is expected, status


# -- webhook health -----------------------------------------------------------------------


def numbers(text, name):
    return re.search(rf'id="{name}">([^<]*)<', text).group(1).strip()


def test_health_panel_counts_rejections_failures_and_the_oldest_unprocessed(app, signed_in, events):
    _, _, sent = events
    client = signed_in(Role.SUPPORT)
    assert numbers(page(client, "/events"), "health-rejections") == "0"
    stripe = app.test_client()
    event = stripe_event("payment_intent.requires_action", intent_for(1))
    assert send_event(stripe, event, secret="whsec_wrong").status_code == 400
    assert send_event(stripe, event, secret="whsec_other").status_code == 400
    stale = int(time.time()) - 3600
    assert send_event(stripe, event, secret=WEBHOOK_SECRET, timestamp=stale).status_code == 400
    assert stripe.post("/webhooks/stripe", data=b"{}").status_code == 400

    text = page(client, "/events")
    assert numbers(text, "health-rejections") == "4"
    reasons = re.search(r'id="health-rejection-reasons">(.*?)</ul>', text, re.S).group(1)
    assert re.findall(r"<code>(\w+)</code> (\d+)", reasons) == [
        ("bad_signature", "2"),
        ("missing_signature", "1"),
        ("stale_timestamp", "1"),
    ]
    assert numbers(text, "health-failed") == "1"
    assert numbers(text, "health-unmatched") == "1"
    oldest = re.search(r'id="health-oldest">(.*?)</span>\s*</div>', text, re.S).group(1)
    assert sent["failed"]["id"] in oldest and "failed" in oldest
    last_by_type = re.search(r'id="health-last-by-type">(.*?)</table>', text, re.S).group(1)
    assert re.findall(r"<code>([^<]+)</code>", last_by_type) == [
        "payment_intent.processing",
        "payment_intent.requires_action",
        "product.created",
    ]


def test_health_panel_when_all_is_well(signed_in):
    text = page(signed_in(Role.SUPPORT), "/events")
    assert numbers(text, "health-failed") == "0"
    assert "none" in re.search(r'id="health-oldest">([^<]*)<', text).group(1)
    assert "No event has arrived yet." in text
    assert "No events match." in text


# -- the order timeline ---------------------------------------------------------------------


def timeline_entries(text):
    return re.findall(r'<li class="entry kind-(\w+)" id="entry-(\d+)">(.*?)</li>', text, re.S)


def test_webhook_entries_show_deliveries_order_of_arrival_and_mapping(app, signed_in, make_order):
    from dashboard.domain.stripe_mapping import MAPPING_VERSION

    order = make_order()
    stripe = app.test_client()
    now = int(time.time())
    later, _ = deliver(stripe, "payment_intent.requires_action", intent_for(order.id), created=now)
    assert send_event(stripe, later).json["deliveries"] == 2  # Stripe sent it again
    earlier, _ = deliver(
        stripe, "payment_intent.requires_action", intent_for(order.id), created=now - 60
    )

    support = signed_in(Role.SUPPORT)
    text = page(support, f"/orders/{order.id}")
    webhooks = [body for kind, _, body in timeline_entries(text) if kind == "webhook"]
    assert len(webhooks) == 2  # a redelivery is counted, not applied again
    first, second = webhooks
    assert later["id"] in first and earlier["id"] in second
    assert '<dd class="deliveries">2 deliveries</dd>' in first
    assert '<dd class="deliveries">1 delivery</dd>' in second
    assert "arrived out of order" not in first.replace("(arrived out of order)", "")
    assert '<span class="badge out-of-order">arrived out of order</span>' in second
    for body in webhooks:
        assert f"<dt>Mapping version</dt><dd>{MAPPING_VERSION}</dd>" in body
        assert "<dt>Created by Stripe</dt>" in body and "<dt>Received</dt>" in body
        assert "payment_intent.requires_action" in body
        assert '<span class="badge event-ignored">ignored</span>' in body
        assert "says nothing new" in body
    rows = {row.event_id: row.id for row in stored_events(app)}
    assert f'hx-get="/events/{rows[later["id"]]}/raw"' in first
    assert 'hx-trigger="toggle once" hx-target="find .raw-body"' in first
    # The expand loads the entry's own event, redacted.
    raw = page(support, f"/events/{rows[earlier['id']]}/raw")
    assert earlier["id"] in raw and SECRET_FRAGMENT not in raw


def test_staff_actions_api_calls_and_state_changes_show_their_facts(
    app, signed_in, make_order, live_app, stripe_http
):
    order = make_order()
    stripe_http.intents["pi_test_hold"] = intent_for(
        order.id,
        id="pi_test_hold",
        amount=2500,
        amount_capturable=2500,
        capture_method="manual",
        status="requires_capture",
    )
    deliver(
        app.test_client(),
        "payment_intent.amount_capturable_updated",
        stripe_http.intents["pi_test_hold"],
    )
    assert reload(app, order.id).state == "authorized"
    staff = signed_in(Role.STAFF)
    stripe_http.fail_next(
        "POST",
        "/v1/payment_intents/pi_test_hold/capture",
        400,
        {
            "type": "invalid_request_error",
            "code": "payment_intent_unexpected_state",
            "message": "This PaymentIntent could not be captured.",
        },
    )
    response = move_money(staff, f"/orders/{order.id}/capture", {"amount": "25.00"})
    assert response.status_code == 303
    text = page(signed_in(Role.SUPPORT), f"/orders/{order.id}")
    entries = {kind: [] for kind in ("staff_action", "api_call", "webhook", "state_change")}
    for kind, _, body in timeline_entries(text):
        entries.setdefault(kind, []).append(body)
    created, asked = entries["staff_action"][0], entries["staff_action"][-1]
    assert "<dt>Who</dt><dd>the system</dd>" in created and "<dd>$25.00</dd>" in created
    assert "<dt>Who</dt><dd>staff@shop.example</dd>" in asked
    assert "<dt>What</dt><dd>capture</dd>" in asked and "<dd>$25.00</dd>" in asked
    assert "<dt>Idempotency key</dt>" in asked
    (call,) = entries["api_call"]
    assert "<dt>Idempotency key</dt>" in call and "<dt>Request id</dt><dd><code>req_test_" in call
    assert '<span class="badge request-failed">failed</span>' in call
    assert "<code>payment_intent_unexpected_state</code>" in call
    states = "".join(entries["state_change"])
    assert (
        '<span class="badge state-open">open</span> → <span class="badge state-authorized">'
        in states
    )
    assert "<dt>Mapping version</dt>" in states


def test_order_page_reads_the_timeline_without_a_query_per_entry(app, signed_in, make_order):
    order = make_order()
    stripe = app.test_client()
    client = signed_in(Role.SUPPORT)

    def statements():
        seen = []
        with app.app_context():
            engine = db.engine

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        sa_event.listen(engine, "before_cursor_execute", record)
        try:
            page(client, f"/orders/{order.id}")
        finally:
            sa_event.remove(engine, "before_cursor_execute", record)
        return seen

    deliver(stripe, "payment_intent.requires_action", intent_for(order.id))
    with_one = statements()
    for _ in range(5):
        deliver(stripe, "payment_intent.requires_action", intent_for(order.id))
    with_six = statements()
    assert len(with_six) == len(with_one)
    # Payloads are read one at a time, when someone expands an entry.
    assert not any(re.search(r"stripe_events(_\d+)?\.payload", s) for s in with_six)


# -- disputes -------------------------------------------------------------------------------


def test_a_dispute_flags_the_order_with_a_countdown_then_its_outcome(app, signed_in, make_order):
    dispute = stripe_example("dispute")
    order = make_order(stripe_charge_id=dispute["charge"])
    client = signed_in(Role.SUPPORT)
    assert "dispute-flag" not in page(client, f"/orders/{order.id}")

    due = int(time.time()) + 5 * 86400 + 1800
    dispute["evidence_details"] = {**dispute["evidence_details"], "due_by": due}
    stripe = app.test_client()
    _, answer = deliver(stripe, "charge.dispute.created", dispute)
    assert answer.status == "applied"
    text = page(client, f"/orders/{order.id}")
    flag = re.search(r'<section class="dispute-flag open".*?</section>', text, re.S).group(0)
    assert "Disputed: $10.00" in flag
    assert '<dd class="dispute-reason">general</dd>' in flag
    assert re.search(r'class="dispute-countdown" data-countdown="[^"]+">5 d 0 h left<', flag)
    assert "dispute-outcome" not in flag

    closed = {**dispute, "status": "lost"}
    _, answer = deliver(stripe, "charge.dispute.closed", closed)
    assert answer.status == "applied"
    text = page(client, f"/orders/{order.id}")
    flag = re.search(r'<section class="dispute-flag closed".*?</section>', text, re.S).group(0)
    assert "Dispute closed: $10.00" in flag
    assert '<dd class="dispute-outcome"><strong>Lost</strong></dd>' in flag
    assert "dispute-countdown" not in flag


def test_a_dispute_in_an_unexpected_currency_still_shows(app, signed_in, make_order):
    dispute = stripe_example("dispute")
    order = make_order(stripe_charge_id=dispute["charge"])
    deliver(app.test_client(), "charge.dispute.created", {**dispute, "currency": "<b>"})
    text = page(signed_in(Role.SUPPORT), f"/orders/{order.id}")
    assert "Disputed: $10.00" in text  # not a currency code: the order's is taken


# -- who may do what --------------------------------------------------------------------------


def test_every_reader_sees_the_log_and_only_staff_reprocess(app, signed_in, events):
    _, _, sent = events
    failed = row_of(app, sent["failed"]["id"])
    clients = {role: signed_in(role) for role in (Role.SUPPORT, Role.STAFF, Role.ADMIN)}
    for role, client in clients.items():
        assert client.get(f"/events/{failed.id}").status_code == 200
        assert client.get(f"/events/{failed.id}/raw").status_code == 200
        expected = 403 if role is Role.SUPPORT else 303
        assert post_form(client, f"/events/{failed.id}/reprocess").status_code == expected
    anonymous = app.test_client()
    assert anonymous.get(f"/events/{failed.id}/raw").headers["Location"].startswith("/login")
    nav = page(clients[Role.SUPPORT], "/orders")
    assert 'href="/events">Event log</a>' in nav


# -- in a real browser: htmx expand and Reprocess under the CSP -------------------------------


@pytest.fixture
def server(app):
    with serve(app) as url:
        yield url


def test_in_a_browser_support_expands_raw_json_and_staff_reprocess(
    app, server, make_order, make_user, tmp_path
):
    from playwright.sync_api import expect

    from tests.support.browser import CHROMIUM, Problems, chromium
    from tests.support.web import PASSWORD

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium")
    order = make_order()
    stripe = app.test_client()
    hostile = intent_for(order.id, description=HOSTILE)
    deliver(stripe, "payment_intent.requires_action", hostile)
    unmatched, _ = deliver(
        stripe, "payment_intent.processing", intent_for(777777, id="pi_test_nobody")
    )
    unmatched_row = row_of(app, unmatched["id"])
    staff_user = make_user(Role.STAFF)
    problems = Problems()
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page_ = problems.watch(context)
        page_.on("dialog", lambda dialog: problems.seen.append(f"dialog: {dialog.message}"))
        page_.goto(server + "/login")
        page_.get_by_label("Email").fill(staff_user.email)
        page_.get_by_label("Password").fill(PASSWORD)
        page_.get_by_role("button", name="Sign in").click()
        page_.goto(f"{server}/orders/{order.id}")
        page_.evaluate("() => { window.__sameDocument = 'still here'; }")
        raw = page_.locator(".kind-webhook details.raw")
        expect(raw).to_be_hidden()  # each entry is one line until it is opened
        page_.locator(".kind-webhook > details > summary").click()
        with page_.expect_response(lambda r: r.url.endswith("/raw")) as answer:
            raw.locator("summary").click()
        assert answer.value.request.headers.get("hx-request") == "true"
        json_box = raw.locator("pre.json")
        expect(json_box).to_contain_text('"client_secret": "[redacted]"')
        expect(json_box).to_contain_text('<script>alert(\\"x\\")</script>')  # as text
        expect(raw.locator("a.stripe-link").first).to_have_attribute(
            "href", re.compile(r"^https://dashboard\.stripe\.com/test/events/evt_")
        )
        page_.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
        raw.locator("summary").click()  # closed, then opened again: loaded once
        raw.locator("summary").click()
        expect(json_box).to_have_count(1)
        assert page_.evaluate("window.__sameDocument") == "still here"

        page_.goto(f"{server}/events")
        expect(page_.locator("#count-unmatched")).to_have_text("1")
        page_.screenshot(path=str(tmp_path / "events.png"), full_page=True)
        page_.goto(f"{server}/events/{unmatched_row.id}")
        page_.evaluate("() => { window.__sameDocument = 'still here'; }")
        page_.get_by_role("button", name="Reprocess").click()
        expect(page_.locator("#reprocess-message")).to_contain_text("still matches no order")
        assert page_.evaluate("window.__sameDocument") == "still here"
        page_.screenshot(path=str(tmp_path / "event.png"), full_page=True)
        context.close()
    assert problems.seen == []
