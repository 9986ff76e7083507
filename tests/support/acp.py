"""Agents and their checkout API for the tests: an agent registered through the real
service, products in the catalog, requests sent as an agent sends them (headers, signature)
and every answer validated against the protocol's OpenAPI file with openapi-core.

The OpenAPI file and examples are the Agentic Commerce Protocol's, version 2026-04-17
(`../shared/acp/2026-04-17/` beside the repository, Apache-2.0 with its LICENSE and NOTICE),
read where they lie; only the server address is changed in memory, so that the paths of our
test servers match.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, TestResponse

from dashboard.extensions import db
from dashboard.models import (
    AgentCheckoutRequest,
    AgentCheckoutSession,
    AgentIdempotencyKey,
    Order,
    Product,
    StripeRequest,
)
from dashboard.services import agents

ACP = Path(__file__).resolve().parents[2].parent / "shared" / "acp" / "2026-04-17"
SPEC = ACP / "openapi.agentic_checkout.yaml"
VERSION = "2026-04-17"


def spec_dict() -> dict[str, Any]:
    """The OpenAPI file, with our server address and its one unsatisfiable schema mended.

    CheckoutSessionWithOrder is `allOf: [CheckoutSessionBase, {order}]`, and the base says
    `additionalProperties: false`: under JSON Schema no object can be both (the base refuses
    `order`), so no completed session could ever conform. It is read as its authors meant
    it, the base's properties and `order` in one object schema (docs/agents.md says so).
    """
    spec = yaml.safe_load(SPEC.read_text())
    spec["servers"] = [{"url": "/"}]
    schemas = spec["components"]["schemas"]
    base = copy.deepcopy(schemas["CheckoutSessionBase"])
    base["properties"]["order"] = {"$ref": "#/components/schemas/Order"}
    base["required"] = [*base["required"], "order"]
    base["description"] = schemas["CheckoutSessionWithOrder"]["description"]
    schemas["CheckoutSessionWithOrder"] = base
    return spec


@functools.cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec_dict())


def examples() -> dict[str, Any]:
    return json.loads((ACP / "examples.agentic_checkout.json").read_text())


def conforms(response: TestResponse) -> TestResponse:
    """The answer, once openapi-core has found it valid for its operation (raises if not)."""
    sent = response.request
    # The request as the operation is found by (method, path, headers): its body was read.
    asked = EnvironBuilder(
        path=sent.path, method=sent.method, headers=list(sent.headers.items())
    ).get_request()
    openapi().validate_response(WerkzeugOpenAPIRequest(asked), WerkzeugOpenAPIResponse(response))
    return response


def register_agent(app: Flask, name: str = "Shopbot", signing_key: str | None = None) -> str:
    """A new agent, registered as an admin does; its API key."""
    with app.app_context():
        made = agents.register(name, "https://agent.example/webhooks", signing_key=signing_key)
        db.session.commit()
        return made.api_key


def add_product(
    app: Flask,
    product_id: str,
    unit_amount: int = 1250,
    currency: str = "USD",
    *,
    active: bool = True,
    stock: int | None = None,
) -> None:
    with app.app_context():
        db.session.add(
            Product(
                id=product_id,
                title=f"Product {product_id}",
                unit_amount=unit_amount,
                currency=currency,
                active=active,
                stock=stock,
            )
        )
        db.session.commit()


def sign(signing_key: str, timestamp: str, body: bytes) -> str:
    """As docs/agents.md tells agents to sign: base64url HMAC-SHA256 of Timestamp "." body."""
    mac = hmac.new(signing_key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


class Agent:
    """Sends requests as an agent: its key, the API version, a new Idempotency-Key per POST
    unless one is given; validates every answer against the OpenAPI file."""

    def __init__(self, client: FlaskClient, key: str, *, validate: bool = True) -> None:
        self.client = client
        self.key = key
        self.validate = validate

    def headers(self, **extra: str | None) -> dict[str, str]:
        made = {
            "Authorization": f"Bearer {self.key}",
            "API-Version": VERSION,
            "Request-Id": f"req_{uuid.uuid4().hex[:12]}",
        }
        for name, value in extra.items():
            header = name.replace("_", "-")
            if value is None:
                made.pop(header, None)
            else:
                made[header] = value
        return made

    def post(
        self, path: str, body: Any = None, *, key: str | None = None, **headers: str | None
    ) -> TestResponse:
        sent = {"Idempotency-Key": key or str(uuid.uuid4()), **self.headers(**headers)}
        if headers.get("Idempotency_Key", "") is None:
            sent.pop("Idempotency-Key")
        data = b"" if body is None else json.dumps(body).encode()
        response = self.client.post(path, data=data, headers=sent, content_type="application/json")
        return conforms(response) if self.validate else response

    def get(self, path: str, **headers: str | None) -> TestResponse:
        response = self.client.get(path, headers=self.headers(**headers))
        return conforms(response) if self.validate else response

    def create(self, *items: tuple[str, int], **fields: Any) -> TestResponse:
        body = {
            "currency": "usd",
            "line_items": [{"id": item, "quantity": quantity} for item, quantity in items],
            "capabilities": {},
            **fields,
        }
        return self.post("/checkout_sessions", body)

    def complete(self, session_id: str, token: str, *, key: str | None = None) -> TestResponse:
        return self.post(
            f"/checkout_sessions/{session_id}/complete",
            complete_body(token),
            key=key,
        )


def complete_body(token: str, email: str = "ada@example.com") -> dict[str, Any]:
    return {
        "buyer": {"first_name": "Ada", "last_name": "Lovelace", "email": email},
        "payment_data": {
            "handler_id": "card_tokenized",
            "instrument": {"type": "card", "credential": {"type": "spt", "token": token}},
        },
    }


def counts(app: Flask) -> dict[str, int]:
    """How many rows the checkout API can write, table by table: "nothing written" means
    these did not change."""
    with app.app_context():
        return {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                AgentCheckoutSession,
                AgentIdempotencyKey,
                AgentCheckoutRequest,
                Order,
                StripeRequest,
            )
        }
