"""The sandbox's shared payment tokens against a real localstripe: `spt_test_success`
holds the money, `spt_test_decline` is declined by the bank, `spt_test_3ds` asks for 3-D
Secure and completes once the agent brings its authentication result; any other token is
one the sandbox does not know. And `flask acp demo` runs a whole agent purchase."""

from __future__ import annotations

import re

import pytest

from dashboard.extensions import db
from dashboard.models import AgentCheckoutSession
from tests.support.acp import Agent, add_product, complete_body, register_agent
from tests.support.database import reload


@pytest.fixture
def agent(sandbox_app) -> Agent:
    add_product(sandbox_app, "mug", 1250)
    return Agent(sandbox_app.test_client(), register_agent(sandbox_app))


def session_of(agent: Agent) -> str:
    return agent.create(("mug", 2), buyer={"email": "ada@example.com"}).get_json()["id"]


def test_the_success_token_holds_the_money(sandbox_app, agent):
    done = agent.complete(session_of(agent), "spt_test_success")
    assert done.status_code == 200
    order = reload(sandbox_app, int(done.get_json()["order"]["id"]))
    assert (order.state, order.amount_capturable) == ("authorized", 2500)
    assert order.stripe_payment_intent_id.startswith("pi_")


def test_the_decline_token_is_declined(sandbox_app, agent):
    session = session_of(agent)
    declined = agent.complete(session, "spt_test_decline_first_try")
    assert declined.status_code == 402 and declined.get_json()["code"] == "payment_declined"
    assert agent.complete(session, "spt_test_success").status_code == 200


def test_the_3ds_token_waits_for_the_agents_authentication(sandbox_app, agent):
    session = session_of(agent)
    asked = agent.complete(session, "spt_test_3ds")
    assert asked.status_code == 402
    assert asked.get_json()["code"] == "authentication_required"
    waiting = agent.get(f"/checkout_sessions/{session}").get_json()
    assert waiting["status"] == "authentication_required"
    assert waiting["authentication_metadata"]["directory_server"] == "visa"
    # Without the result: the RFC's requires_3ds.
    missing = agent.complete(session, "spt_test_3ds")
    assert missing.status_code == 400 and missing.get_json()["code"] == "requires_3ds"
    body = {
        **complete_body("spt_test_3ds"),
        "authentication_result": {
            "outcome": "authenticated",
            "outcome_details": {
                "three_ds_cryptogram": "AbCdEfGhIjKlMnOpQrStUvWxY0=",
                "electronic_commerce_indicator": "05",
                "transaction_id": "dsTransId_1",
                "version": "2.2.0",
            },
        },
    }
    done = agent.post(f"/checkout_sessions/{session}/complete", body)
    assert done.status_code == 200, done.get_json()
    order = reload(sandbox_app, int(done.get_json()["order"]["id"]))
    assert order.state == "authorized"


def test_a_token_the_sandbox_does_not_know(sandbox_app, agent):
    session = session_of(agent)
    refused = agent.complete(session, "spt_live_looking_token")
    assert refused.status_code == 400 and refused.get_json()["code"] == "payment_refused"
    with sandbox_app.app_context():
        assert db.session.get(AgentCheckoutSession, session).status == "ready_for_payment"


def test_flask_acp_demo_runs_a_whole_purchase(sandbox_app, runner):
    result = runner.invoke(args=["acp", "demo"])
    assert result.exit_code == 0, result.output
    found = re.search(r"http://dashboard\.test/orders/(\d+)", result.output)
    assert found, result.output
    order = reload(sandbox_app, int(found.group(1)))
    assert order.state == "authorized" and order.agent_id is not None
