"""An agent's buyer whose bank asks for 3-D Secure, against Stripe (its answers at the SDK's
HTTP boundary; localstripe's own stand-in is in test_acp_sandbox.py): the agent runs the
authentication and completes again with its result, which confirms the PaymentIntent with
Stripe's `payment_method_options.card.three_d_secure`, exactly once. An outcome that is not
an authentication declines it without calling Stripe; a malformed result is refused,
naming its field."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import OutboxEvent, StripeRequest, TimelineEntry
from tests.support.acp import Agent, add_product, complete_body, counts, register_agent
from tests.support.database import reload

TOKEN = "spt_bank_asks_for_3ds"
CRYPTOGRAM = "AbCdEfGhIjKlMnOpQrStUvWxY0="  # the protocol's own example
DETAILS = {
    "three_ds_cryptogram": CRYPTOGRAM,
    "electronic_commerce_indicator": "05",
    "transaction_id": "dsTransId_abc123",
    "version": "2.2.0",
}


@pytest.fixture
def agent(live_app, stripe_http) -> Agent:
    add_product(live_app, "mug", 1250)
    stripe_http.authenticating_tokens.add(TOKEN)
    return Agent(live_app.test_client(), register_agent(live_app))


def waiting_session(agent: Agent) -> str:
    session = agent.create(("mug", 2), buyer={"email": "ada@example.com"}).get_json()["id"]
    asked = agent.complete(session, TOKEN)
    assert asked.status_code == 402 and asked.get_json()["code"] == "authentication_required"
    assert agent.get(f"/checkout_sessions/{session}").get_json()["status"] == (
        "authentication_required"
    )
    return session


def authenticate(agent: Agent, session: str, result: dict, *, key: str | None = None):
    body = {**complete_body(TOKEN), "authentication_result": result}
    return agent.post(f"/checkout_sessions/{session}/complete", body, key=key)


def confirm_path(stripe_http) -> str:
    (intent,) = stripe_http.intents
    return f"/v1/payment_intents/{intent}/confirm"


def test_an_authenticated_result_confirms_the_payment_with_stripe_once(
    live_app, agent, stripe_http
):
    session = waiting_session(agent)
    done = authenticate(agent, session, {"outcome": "authenticated", "outcome_details": DETAILS})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "completed"
    (call,) = stripe_http.calls_to("POST", confirm_path(stripe_http))
    sent = "payment_method_options[card][three_d_secure]"
    assert parse_qs(call.post_data) == {
        f"{sent}[cryptogram]": [CRYPTOGRAM],
        f"{sent}[electronic_commerce_indicator]": ["05"],
        f"{sent}[transaction_id]": ["dsTransId_abc123"],
        f"{sent}[version]": ["2.2.0"],
        f"{sent}[ares_trans_status]": ["Y"],
    }
    headers = {name.lower(): value for name, value in call.headers.items()}
    assert headers["idempotency-key"].startswith("acp-")
    assert headers["stripe-version"] == "2026-04-22.preview"
    order = reload(live_app, int(done.get_json()["order"]["id"]))
    assert (order.state, order.amount_capturable) == ("authorized", 2500)
    with live_app.app_context():
        said = db.session.scalars(
            select(TimelineEntry.summary).where(TimelineEntry.order_id == order.id)
        ).all()
    assert "Stripe confirmation with the agent's 3-D Secure result: succeeded" in said


@pytest.mark.parametrize(
    ("outcome", "status"), [("attempt_acknowledged", "A"), ("informational", "I")]
)
def test_the_other_outcomes_that_go_on_say_which_they_were(
    live_app, agent, stripe_http, outcome, status
):
    session = waiting_session(agent)
    done = authenticate(agent, session, {"outcome": outcome, "outcome_details": DETAILS})
    assert done.status_code == 200, done.get_json()
    (call,) = stripe_http.calls_to("POST", confirm_path(stripe_http))
    assert call.form["payment_method_options[card][three_d_secure][ares_trans_status]"] == [status]


def test_a_denied_authentication_declines_without_asking_stripe_and_another_card_pays(
    live_app, agent, stripe_http
):
    session = waiting_session(agent)
    denied = authenticate(agent, session, {"outcome": "denied"})
    assert denied.status_code == 402 and denied.get_json()["code"] == "payment_declined"
    assert "did not authenticate" in denied.get_json()["message"]
    assert stripe_http.calls_to("POST", confirm_path(stripe_http)) == []
    (intent,) = stripe_http.intents
    with live_app.app_context():
        failed = db.session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.type == "PAYMENT_FAILED")
        ).all()
    assert [(p["payment_intent"], p["stage"]) for p in failed] == [(intent, "authorization")]
    after = agent.get(f"/checkout_sessions/{session}").get_json()
    assert after["status"] == "ready_for_payment"
    assert [m["code"] for m in after["messages"]] == ["payment_declined"]
    paid = agent.complete(session, "spt_another_card")
    assert paid.status_code == 200, paid.get_json()
    assert reload(live_app, int(paid.get_json()["order"]["id"])).state == "authorized"


@pytest.mark.parametrize(
    ("result", "param"),
    [
        ({"outcome": "authenticated"}, "$.authentication_result.outcome_details"),
        ({"outcome": "fine"}, "$.authentication_result.outcome"),
        ({"outcome": ["authenticated"]}, "$.authentication_result.outcome"),
        (
            {
                "outcome": "authenticated",
                "outcome_details": {**DETAILS, "three_ds_cryptogram": ""},
            },
            "$.authentication_result.outcome_details.three_ds_cryptogram",
        ),
        (
            # longer than Stripe takes
            {
                "outcome": "authenticated",
                "outcome_details": {**DETAILS, "three_ds_cryptogram": "A" * 5001},
            },
            "$.authentication_result.outcome_details.three_ds_cryptogram",
        ),
        (
            {
                "outcome": "authenticated",
                "outcome_details": {**DETAILS, "electronic_commerce_indicator": ["05"]},
            },
            "$.authentication_result.outcome_details.electronic_commerce_indicator",
        ),
        (
            {
                "outcome": "authenticated",
                "outcome_details": {**DETAILS, "electronic_commerce_indicator": "5"},
            },
            "$.authentication_result.outcome_details.electronic_commerce_indicator",
        ),
        (
            {"outcome": "authenticated", "outcome_details": {**DETAILS, "transaction_id": ""}},
            "$.authentication_result.outcome_details.transaction_id",
        ),
        (
            {"outcome": "authenticated", "outcome_details": {**DETAILS, "version": "two"}},
            "$.authentication_result.outcome_details.version",
        ),
    ],
)
def test_a_malformed_result_is_refused_naming_its_field_and_sends_nothing(
    live_app, agent, stripe_http, result, param
):
    session = waiting_session(agent)
    before = counts(live_app)
    sent = len(stripe_http.calls)
    refused = authenticate(agent, session, result)
    assert refused.status_code == 400, refused.get_json()
    assert refused.get_json()["param"] == param
    assert len(stripe_http.calls) == sent and counts(live_app) == before
    assert agent.get(f"/checkout_sessions/{session}").get_json()["status"] == (
        "authentication_required"
    )
    # The same session still completes once the result is right.
    done = authenticate(agent, session, {"outcome": "authenticated", "outcome_details": DETAILS})
    assert done.status_code == 200, done.get_json()


def test_a_lost_answer_is_sent_again_with_the_same_key_and_holds_once(live_app, agent, stripe_http):
    session = waiting_session(agent)
    path = confirm_path(stripe_http)
    stripe_http.fail_next("POST", path, 500, {"type": "api_error"})
    result = {"outcome": "authenticated", "outcome_details": DETAILS}
    lost = authenticate(agent, session, result, key="confirm-me")
    assert lost.status_code == 503 and lost.headers["Retry-After"]
    assert agent.get(f"/checkout_sessions/{session}").get_json()["status"] == (
        "authentication_required"
    )
    done = authenticate(agent, session, result, key="confirm-me")
    assert done.status_code == 200, done.get_json()
    first, second = stripe_http.calls_to("POST", path)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    order = reload(live_app, int(done.get_json()["order"]["id"]))
    assert (order.state, order.amount_capturable) == ("authorized", 2500)
    with live_app.app_context():
        (request,) = db.session.scalars(
            select(StripeRequest).where(StripeRequest.action == "confirm_payment_intent")
        ).all()
    assert request.status == "succeeded"


def test_stripe_declining_the_confirmation_is_the_protocols_decline(live_app, agent, stripe_http):
    session = waiting_session(agent)
    stripe_http.fail_next(
        "POST",
        confirm_path(stripe_http),
        402,
        {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        },
    )
    declined = authenticate(
        agent, session, {"outcome": "authenticated", "outcome_details": DETAILS}
    )
    assert declined.status_code == 402 and declined.get_json()["code"] == "payment_declined"
    assert agent.get(f"/checkout_sessions/{session}").get_json()["status"] == "ready_for_payment"
