"""The Agentic Commerce Protocol's checkout API as an agent meets it: every operation's
answers valid for the protocol's OpenAPI file (openapi-core), a whole purchase ending in an
ordinary order held on the buyer's card through the shared payment token, the exact request
Stripe receives for it, and the order's timeline listing every request the agent made."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import pytest

from dashboard.extensions import db
from dashboard.models import AgentCheckoutSession, Order, TimelineEntry
from dashboard.payments.shared_tokens import SHARED_TOKEN_API_VERSION
from dashboard.services import agents
from tests.support.acp import Agent, add_product, complete_body, counts, register_agent
from tests.support.agent_receiver import AgentReceiver
from tests.support.database import reload


@pytest.fixture
def agent(live_app) -> Agent:
    add_product(live_app, "mug", 1250)
    add_product(live_app, "tee", 2000)
    return Agent(live_app.test_client(), register_agent(live_app))


def test_a_whole_purchase_becomes_an_ordinary_order_held_on_the_card(live_app, agent, stripe_http):
    created = agent.create(("mug", 2), ("tee", 1))
    assert created.status_code == 201
    session = created.get_json()
    assert session["status"] == "not_ready_for_payment"
    assert [m["param"] for m in session["messages"]] == ["$.buyer.email"]
    assert [(line["item"]["id"], line["quantity"]) for line in session["line_items"]] == [
        ("mug", 2),
        ("tee", 1),
    ]
    total = {t["type"]: t["amount"] for t in session["totals"]}
    assert total == {"items_base_amount": 4500, "subtotal": 4500, "total": 4500}

    path = f"/checkout_sessions/{session['id']}"
    address = {
        "name": "Ada Lovelace",
        "line_one": "1 Analytical Way",
        "city": "London",
        "state": "LDN",
        "country": "GB",
        "postal_code": "N1 1AA",
    }
    updated = agent.post(
        path, {"fulfillment_details": {"email": "ada@example.com", "address": address}}
    )
    assert updated.status_code == 200
    assert updated.get_json()["status"] == "ready_for_payment"
    assert agent.get(path).get_json()["fulfillment_details"]["address"] == address

    done = agent.complete(session["id"], "spt_live_granted_123", key="complete-1")
    assert done.status_code == 200, done.get_json()
    answer = done.get_json()
    assert answer["status"] == "completed"
    order_id = int(answer["order"]["id"])
    assert answer["order"]["checkout_session_id"] == session["id"]
    assert answer["order"]["permalink_url"].startswith("http://dashboard.test/pay/")

    order = reload(live_app, order_id)
    assert (order.state, order.total_amount, order.amount_capturable) == ("authorized", 4500, 4500)
    assert order.buyer_email == "ada@example.com" and order.buyer_name == "Ada Lovelace"
    with live_app.app_context():
        assert db.session.get(Order, order_id).agent.name == "Shopbot"
    # Read again afterwards: completed (the OpenAPI file's CheckoutSession has no order).
    assert agent.get(path).get_json()["status"] == "completed"


def test_stripe_is_asked_exactly_once_with_the_token_in_its_preview_field(
    live_app, agent, stripe_http
):
    session = agent.create(("mug", 1)).get_json()
    agent.complete(session["id"], "spt_1RgaZcFPC5QUO6ZCDVZuVA8q", key="pay-once")
    (call,) = stripe_http.calls_to("POST", "/v1/payment_intents")
    assert parse_qs(call.post_data) == {
        "amount": ["1250"],
        "currency": ["usd"],
        "capture_method": ["manual"],
        "confirm": ["true"],
        "payment_method_data[shared_payment_granted_token]": ["spt_1RgaZcFPC5QUO6ZCDVZuVA8q"],
        "metadata[checkout_session]": [session["id"]],
        "metadata[agent]": [call.form["metadata[agent]"][0]],
        "metadata[order_id]": [call.form["metadata[order_id]"][0]],
    }
    headers = {name.lower(): value for name, value in call.headers.items()}
    assert headers["stripe-version"] == SHARED_TOKEN_API_VERSION == "2026-04-22.preview"
    assert headers["idempotency-key"].startswith("acp-")
    # The same Idempotency-Key again: the first answer, replayed; Stripe is not asked again.
    again = agent.complete(session["id"], "spt_1RgaZcFPC5QUO6ZCDVZuVA8q", key="pay-once")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert len(stripe_http.calls_to("POST", "/v1/payment_intents")) == 1


def test_the_token_is_never_kept(live_app, agent, stripe_http, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's included
    token = "spt_secret_never_kept_42"
    session = agent.create(("mug", 1)).get_json()
    agent.complete(session["id"], token)
    stripe_http.fail_next(
        "POST",
        "/v1/payment_intents",
        400,
        {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": f"No such shared_payment.granted_token: '{token}x'",
        },
    )
    second = agent.create(("mug", 1)).get_json()
    assert agent.complete(second["id"], token + "x").status_code == 400
    assert token not in caplog.text
    with live_app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                assert token not in json.dumps([str(value) for value in row]), table.name


def test_capture_method_is_a_setting(live_app, agent, stripe_http):
    live_app.config["ACP_CAPTURE_METHOD"] = "automatic"
    session = agent.create(("mug", 1)).get_json()
    agent.complete(session["id"], "spt_auto_1")
    (call,) = stripe_http.calls_to("POST", "/v1/payment_intents")
    assert call.form["capture_method"] == ["automatic"]


def test_a_decline_is_the_protocols_answer_and_the_agent_may_try_another_token(
    live_app, agent, stripe_http
):
    session = agent.create(("mug", 1), buyer={"email": "ada@example.com"}).get_json()
    stripe_http.fail_next(
        "POST",
        "/v1/payment_intents",
        402,
        {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        },
    )
    declined = agent.complete(session["id"], "spt_declined_1")
    assert declined.status_code == 402
    assert declined.get_json()["code"] == "payment_declined"
    after = agent.get(f"/checkout_sessions/{session['id']}").get_json()
    assert after["status"] == "ready_for_payment"
    assert [m["code"] for m in after["messages"]] == ["payment_declined"]
    retried = agent.complete(session["id"], "spt_other_card_2")
    assert retried.status_code == 200
    order = reload(live_app, int(retried.get_json()["order"]["id"]))
    assert order.state == "authorized"


def test_cancel_then_cancel_again_and_complete_a_canceled_session(live_app, agent, stripe_http):
    session = agent.create(("mug", 1)).get_json()
    path = f"/checkout_sessions/{session['id']}"
    canceled = agent.post(f"{path}/cancel", {"intent_trace": {"reason_code": "comparison"}})
    assert canceled.status_code == 200 and canceled.get_json()["status"] == "canceled"
    before = counts(live_app)
    assert agent.post(f"{path}/cancel").status_code == 405
    refused = agent.complete(session["id"], "spt_after_cancel")
    assert refused.status_code == 400
    assert refused.get_json()["code"] == "checkout_session_canceled"
    assert counts(live_app) == before
    assert stripe_http.calls_to("POST", "/v1/payment_intents") == []


def test_the_orders_timeline_lists_every_request_of_the_agent(live_app, agent, stripe_http):
    created = agent.post(
        "/checkout_sessions",
        {"currency": "usd", "line_items": [{"id": "mug"}], "capabilities": {}},
        key="key-create",
        Request_Id="req_create_1",
    )
    session_id = created.get_json()["id"]
    agent.get(f"/checkout_sessions/{session_id}", Request_Id="req_read_1")
    agent.post(
        f"/checkout_sessions/{session_id}/complete",
        complete_body("spt_timeline"),
        key="key-complete",
        Request_Id="req_complete_1",
    )
    agent.get(f"/checkout_sessions/{session_id}", Request_Id="req_read_2")
    with live_app.app_context():
        session = db.session.get(AgentCheckoutSession, session_id)
        lines = [
            entry.data["agent_request"]
            for entry in db.session.query(TimelineEntry)
            .filter_by(order_id=session.order_id)
            .order_by(TimelineEntry.id)
            if "agent_request" in entry.data
        ]
    assert [(line["operation"], line["request_id"], line["idempotency_key"]) for line in lines] == [
        ("create", "req_create_1", "key-create"),
        ("get", "req_read_1", None),
        ("complete", "req_complete_1", "key-complete"),
        ("get", "req_read_2", None),
    ]
    assert lines[2]["http_status"] == 200 and lines[2]["outcome"] == "completed"


def test_the_order_shows_in_the_panel_via_its_agent(live_app, agent, stripe_http, signed_in):
    from dashboard.models import Role

    session = agent.create(("mug", 1)).get_json()
    order_id = agent.complete(session["id"], "spt_panel").get_json()["order"]["id"]
    staff = signed_in(Role.STAFF, quick_hash=True)
    page = staff.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "via agent Shopbot" in page
    assert f'action="/orders/{order_id}/capture"' in page  # the same money panel
    listing = staff.get("/orders").get_data(as_text=True)
    queue = listing.split('id="capture-queue"')[1].split("</table>")[0]
    assert f"/orders/{order_id}" in queue and "via agent Shopbot" in queue
    rows = listing.split("order-list")[1]
    assert "via agent Shopbot" in rows


def test_request_id_and_idempotency_key_are_echoed(agent):
    response = agent.post(
        "/checkout_sessions",
        {"currency": "usd", "line_items": [{"id": "mug"}], "capabilities": {}},
        key="echo-key",
        Request_Id="req_echo",
    )
    assert response.headers["Idempotency-Key"] == "echo-key"
    assert response.headers["Request-Id"] == "req_echo"
    assert response.headers["Cache-Control"] == "no-store"


def test_no_answer_from_stripe_is_not_kept_and_the_same_key_resumes_the_payment(
    live_app, agent, stripe_http
):
    session = agent.create(("mug", 1), buyer={"email": "ada@example.com"}).get_json()["id"]
    stripe_http.fail_next("POST", "/v1/payment_intents", 500, {"type": "api_error"})
    lost = agent.complete(session, "spt_flaky_network", key="resume-me")
    assert lost.status_code == 503 and lost.get_json()["type"] == "service_unavailable"
    assert lost.headers["Retry-After"]
    assert agent.get(f"/checkout_sessions/{session}").get_json()["status"] == (
        "complete_in_progress"
    )
    # Another key finds the payment busy; the same key sends the very same request again.
    busy = agent.complete(session, "spt_flaky_network", key="another-key")
    assert busy.status_code == 409 and busy.get_json()["code"] == "checkout_session_in_progress"
    resumed = agent.complete(session, "spt_flaky_network", key="resume-me")
    assert resumed.status_code == 200 and "Idempotent-Replayed" not in resumed.headers
    first, second = stripe_http.calls_to("POST", "/v1/payment_intents")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert reload(live_app, int(resumed.get_json()["order"]["id"])).state == "authorized"


def test_the_agent_hears_of_its_new_order_with_the_checkout_session_it_came_from(
    live_app, stripe_http
):
    secret = "whsec_" + "agent" * 8
    receiver = AgentReceiver(secret).start()
    try:
        add_product(live_app, "mug", 1250)
        with live_app.app_context():
            made = agents.register("Buyer bot", receiver.url, webhook_secret=secret)
            db.session.commit()
            key = made.api_key
        agent = Agent(live_app.test_client(), key)
        session = agent.create(("mug", 1)).get_json()
        agent.post(f"/checkout_sessions/{session['id']}", {"buyer": {"email": "ada@example.com"}})
        done = agent.complete(session["id"], "spt_live_granted_123", key="complete-1")
        assert done.status_code == 200, done.get_json()

        result = live_app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
        assert result.exit_code == 0, result.output
        assert receiver.refused == [] and receiver.invalid == []
        [announced] = [r.event for r in receiver.accepted]
        assert announced["type"] == "order_create"
        assert announced["data"]["checkout_session_id"] == session["id"]
        assert announced["data"]["status"] == "confirmed"
    finally:
        receiver.stop()
