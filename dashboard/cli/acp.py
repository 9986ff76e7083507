"""`flask acp demo`: a whole agent purchase through the checkout API against the running
sandbox (create a session, add an address, complete with a sandbox token), printing each
step and the order's address in the panel."""

from __future__ import annotations

import json
import uuid
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from dashboard.cli import command
from dashboard.domain.acp import PROTOCOL_VERSION
from dashboard.payments.gateway import is_sandbox
from dashboard.services.acp import demo as acp_demo
from dashboard.transactions import unit_of_work

group = AppGroup("acp", help="The agents' checkout API (Agentic Commerce Protocol).")

TOKENS = ("spt_test_success", "spt_test_decline", "spt_test_3ds")


@command("demo", group)
@click.option(
    "--token",
    type=click.Choice(TOKENS),
    default="spt_test_success",
    show_default=True,
    help="The sandbox's shared payment token: a card that authorizes, declines or asks "
    "for 3-D Secure.",
)
def demo(token: str) -> None:
    """Buy as an AI agent would, through the checkout API, and print the order's address."""
    if not is_sandbox(current_app.config):
        raise click.ClickException(
            "flask acp demo runs only against the sandbox (start it with `make run`)."
        )
    with unit_of_work():
        api_key, product_id = acp_demo.prepare()
    client = current_app.test_client()

    def call(step: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {api_key}",
            "API-Version": PROTOCOL_VERSION,
            "Idempotency-Key": str(uuid.uuid4()),
            "Request-Id": f"demo-{step}",
        }
        answer = client.post(path, data=json.dumps(body or {}), headers=headers)
        found: dict[str, Any] = answer.get_json() or {}
        click.echo(f"{step}: {answer.status_code} {found.get('status') or found.get('code')}")
        if answer.status_code >= 300:
            raise click.ClickException(str(found.get("message") or "the API refused"))
        return found

    session = call(
        "create",
        "/checkout_sessions",
        {"currency": "usd", "line_items": [{"id": product_id, "quantity": 2}], "capabilities": {}},
    )
    path = f"/checkout_sessions/{session['id']}"
    call(
        "update",
        path,
        {
            "buyer": {"first_name": "Sandbox", "last_name": "Buyer", "email": "buyer@example.com"},
            "fulfillment_details": {
                "name": "Sandbox Buyer",
                "address": {
                    "name": "Sandbox Buyer",
                    "line_one": "1 Loopback Lane",
                    "city": "Localhost",
                    "state": "CA",
                    "country": "US",
                    "postal_code": "94000",
                },
            },
        },
    )
    done = call(
        "complete",
        f"{path}/complete",
        {
            "payment_data": {
                "handler_id": "card_tokenized",
                "instrument": {"type": "card", "credential": {"type": "spt", "token": token}},
            }
        },
    )
    base = current_app.config["PUBLIC_BASE_URL"]
    click.echo(f"The agent's order: {base}/orders/{done['order']['id']}")
