"""AI agents as an admin meets them: registered on the admin page or with `flask agent
create` (the key shown once, then only its first characters), listed, revoked after a
confirmation; and the orders an agent placed, marked "via agent <name>" wherever staff
meet orders."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Agent, Role, utcnow
from dashboard.services import agents
from tests.support.database import count
from tests.support.web import post_form

KEY = re.compile(r'<code id="api-key" class="break">(acp_[A-Za-z0-9_-]+)</code>')


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def register_on_the_page(client, **overrides):
    data = {"name": "Shopping Agent", "webhook_url": "https://agent.example/hooks"}
    data.update(overrides)
    return post_form(client, "/admin/agents", data)


def key_of(app, api_key):
    with app.app_context():
        agent = agents.authenticate(api_key)
        return None if agent is None else agent.name


def test_an_admin_registers_an_agent_and_sees_its_key_once(app, signed_in):
    client = signed_in(Role.ADMIN)
    response = register_on_the_page(client, signing_key="s" * 32, rate_limit="30")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    api_key = KEY.search(page).group(1)
    assert "They are not shown again" in page
    assert 'id="webhook-secret"' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert key_of(app, api_key) == "Shopping Agent"
    listing = client.get("/admin/agents").get_data(as_text=True)
    assert "Shopping Agent" in listing and "30 a minute" in listing
    assert api_key[:12] + "…" in listing and api_key not in listing
    assert "signs its requests" in listing


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required"),
        ({"webhook_url": "ftp://agent.example/"}, "must start with https://"),
        ({"webhook_url": "javascript:alert(1)"}, "must start with https://"),
        ({"signing_key": "short"}, "at least 32 characters"),
        ({"rate_limit": "0"}, "Number must be between 1 and 100000"),
        ({"rate_limit": "lots"}, "Not a valid integer value"),
    ],
)
def test_a_bad_registration_is_shown_back_and_writes_nothing(app, signed_in, overrides, message):
    response = register_on_the_page(signed_in(Role.ADMIN), **overrides)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, Agent) == 0


def test_two_agents_cannot_share_a_name(app, signed_in):
    client = signed_in(Role.ADMIN)
    register_on_the_page(client)
    again = register_on_the_page(client, webhook_url="https://other.example/")
    assert again.status_code == 422
    assert "An agent is already named" in again.get_data(as_text=True)
    assert count(app, Agent) == 1


def test_revoking_asks_first_then_refuses_the_key(app, signed_in):
    client = signed_in(Role.ADMIN)
    api_key = KEY.search(register_on_the_page(client).get_data(as_text=True)).group(1)
    with app.app_context():
        agent_id = db.session.scalar(select(Agent.id))
    path = f"/admin/agents/{agent_id}/revoke"
    question = client.get(path).get_data(as_text=True)
    assert "Revoke Shopping Agent's key?" in question and "cannot be undone" in question
    unticked = post_form(client, path, {})
    assert unticked.status_code == 422
    assert "Tick the box to revoke the key." in unticked.get_data(as_text=True)
    assert key_of(app, api_key) == "Shopping Agent"
    done = post_form(client, path, {"confirm": "y"}, follow_redirects=True)
    assert "Revoked Shopping Agent&#39;s key" in done.get_data(as_text=True)
    assert key_of(app, api_key) is None
    assert "revoked" in client.get("/admin/agents").get_data(as_text=True)


def test_agent_commands_create_list_and_revoke(app, cli):
    made = cli.invoke(
        args=["agent", "create", "Shopper", "--webhook-url", "https://agent.example/h",
              "--signing-key", "k" * 40, "--rate-limit", "12"]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    api_key = re.search(r"API key: (acp_\S+)", made.output).group(1)
    assert re.search(r"Webhook signing secret: whsec_\S+", made.output)
    assert key_of(app, api_key) == "Shopper"
    listing = cli.invoke(args=["agent", "list"]).output
    assert "Shopper" in listing and api_key[:12] + "…" in listing and api_key not in listing
    assert "12/min" in listing and "signed" in listing and "active" in listing
    refused = cli.invoke(args=["agent", "revoke", "Shopper"], input="n\n")
    assert refused.exit_code == 1 and key_of(app, api_key) == "Shopper"
    revoked = cli.invoke(args=["agent", "revoke", "Shopper"], input="y\n")
    assert revoked.exit_code == 0 and "Revoked Shopper's key." in revoked.output
    assert key_of(app, api_key) is None
    assert "revoked" in cli.invoke(args=["agent", "list"]).output
    again = cli.invoke(args=["agent", "revoke", "Shopper", "--yes"])
    assert "already revoked" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["agent", "create", "A", "--webhook-url", "not a url"], "must start with https://"),
        (["agent", "create", "A", "--webhook-url", "https://a.example", "--signing-key", "x"],
         "at least 32"),
        (["agent", "create", "", "--webhook-url", "https://a.example"], "Give the agent a name"),
        (["agent", "revoke", "Nobody", "--yes"], "No agent is named 'Nobody'"),
    ],
)  # fmt: skip
def test_agent_commands_refuse_bad_input(app, cli, args, message):
    result = cli.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output
    assert count(app, Agent) == 0


def test_an_agents_order_says_so_on_the_list_the_queue_and_its_page(app, signed_in, make_order):
    with app.app_context():
        agent_id = agents.register("Shopping Agent", "https://agent.example/h").agent.id
        db.session.commit()
    by_agent = make_order(
        state="authorized",
        agent_id=agent_id,
        amount_authorized=2500,
        amount_capturable=2500,
        capture_before=utcnow() + timedelta(days=3),
    )
    by_staff = make_order(buyer_email="staff-made@example.com")
    client = signed_in(Role.STAFF)
    listing = client.get("/orders").get_data(as_text=True)
    queue = listing.split('id="capture-queue"')[1].split("</table>")[0]
    assert "via agent Shopping Agent" in queue
    rows = listing.split('class="orders order-list"')[1]
    assert rows.count("via agent Shopping Agent") == 1
    page = client.get(f"/orders/{by_agent.id}").get_data(as_text=True)
    assert "via agent Shopping Agent" in page
    assert "via agent" not in client.get(f"/orders/{by_staff.id}").get_data(as_text=True)
