"""An agent retrying with one Idempotency-Key from 8 threads at once, over real HTTP, on
PostgreSQL: one session, one PaymentIntent; every other answer a replay of the first or
"in flight" (409 with Retry-After); the same key with another body is a conflict (422).

PostgreSQL only: the guard under test is the key's unique constraint taken by concurrent
transactions (and, for a payment, the key's row made durable before Stripe is called).
SQLite lets one writer in at a time, so it has no race to show. Stripe is the double at the
SDK's HTTP boundary, slowed so that the payment is still in flight while the others ask.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import requests

from dashboard.models import AgentCheckoutSession
from dashboard.payments.stripe_gateway import StripeGateway
from tests.support.acp import VERSION, add_product, complete_body, register_agent
from tests.support.app import serve
from tests.support.concurrency import all_at_once
from tests.support.database import TEST_DATABASE_URL, count
from tests.support.stripe import TEST_KEY, FakeStripeHTTP

pytestmark = pytest.mark.postgres
THREADS = 8


class SlowStripe(FakeStripeHTTP):
    """Stripe taking its time over a payment, as it may."""

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        if method.upper() == "POST" and url.endswith("/v1/payment_intents"):
            time.sleep(0.5)
        return super().request(method, url, headers, post_data, _usage=_usage)


@pytest.fixture
def slow_stripe(live_app, database_url) -> SlowStripe:
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "PostgreSQL only: SQLite admits one writer at a time, so there is no race"
            if TEST_DATABASE_URL
            else "needs PostgreSQL: set TEST_DATABASE_URL to run the race tests"
        )
    double = SlowStripe()
    live_app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=double, max_network_retries=0
    )
    return double


def send(base: str, api_key: str, path: str, body: dict, key: str) -> requests.Response:
    return requests.post(
        base + path,
        data=json.dumps(body),
        headers={
            "Authorization": f"Bearer {api_key}",
            "API-Version": VERSION,
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
        timeout=60,
    )


def test_one_key_from_eight_threads_makes_one_session_and_one_payment(live_app, slow_stripe):
    add_product(live_app, "mug", 1250)
    api_key = register_agent(live_app)
    cart = {"currency": "usd", "line_items": [{"id": "mug"}], "capabilities": {}}
    with serve(live_app) as base:
        created = all_at_once(
            [lambda: send(base, api_key, "/checkout_sessions", cart, "create-1")] * THREADS
        )
        assert Counter(r.status_code for r in created) == {201: THREADS}
        assert len({r.json()["id"] for r in created}) == 1
        assert sum("Idempotent-Replayed" not in r.headers for r in created) == 1
        assert count(live_app, AgentCheckoutSession) == 1

        session = created[0].json()["id"]
        path = f"/checkout_sessions/{session}/complete"
        body = complete_body("spt_race_token")
        paid = all_at_once([lambda: send(base, api_key, path, body, "pay-1")] * THREADS)
        statuses = Counter(r.status_code for r in paid)
        assert set(statuses) <= {200, 409} and statuses[200] >= 1, statuses
        assert (
            sum(r.status_code == 200 and "Idempotent-Replayed" not in r.headers for r in paid) == 1
        )
        for answer in paid:
            if answer.status_code == 409:
                assert answer.json()["code"] == "idempotency_in_flight"
                assert answer.headers["Retry-After"] == "2"
        assert len(slow_stripe.calls_to("POST", "/v1/payment_intents")) == 1

        # Afterwards the key replays the payment's answer; another body is a conflict.
        again = send(base, api_key, path, body, "pay-1")
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        other = send(base, api_key, path, complete_body("spt_other_token"), "pay-1")
        assert other.status_code == 422 and other.json()["code"] == "idempotency_conflict"
        assert len(slow_stripe.calls_to("POST", "/v1/payment_intents")) == 1
