"""Fixtures: a migrated database per backend, an app per test, and signed-in clients.

Every test that takes `app` runs on SQLite, and again on PostgreSQL when
TEST_DATABASE_URL is set (CI sets it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, select, text

from dashboard import MIGRATIONS_DIR, create_app
from dashboard.config import normalize_database_url
from dashboard.domain.orders import LineDraft
from dashboard.extensions import db
from dashboard.models import (
    Order,
    OutboxEvent,
    Role,
    StripeEvent,
    StripeRequest,
    TimelineEntry,
    TimelineKind,
    User,
)
from dashboard.payments.stripe_gateway import StripeGateway
from dashboard.services import orders as order_service
from dashboard.services import users as user_service
from tests.stripe_double import FakeStripeHTTP

PASSWORD = "correct horse battery"
WEBHOOK_SECRET = "whsec_test_endpoint_secret"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if TEST_DATABASE_URL else ["sqlite"]


def reset_postgres_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def base_config(database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PUBLIC_BASE_URL": "http://dashboard.test",
        "STRIPE_SECRET_KEY": "",
        "STRIPE_API_BASE": "",
        "STRIPE_WEBHOOK_SECRETS": [WEBHOOK_SECRET],
    }


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database brought to the latest migration once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    else:
        url = normalize_database_url(TEST_DATABASE_URL)
        reset_postgres_schema(url)
    migrator = create_app(base_config(url), instance_path=str(tmp_path_factory.mktemp("inst")))
    with migrator.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        db.engine.dispose()
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(base_config(database_url), instance_path=str(tmp_path / "instance"))
    yield app
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _push_request_context() -> None:
    """Replaces pytest-flask's fixture of this name, which keeps one request context open
    for the whole test: every client request would then share its `g` and database
    session, as no two real requests do, and hide bugs a real server would show."""


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    def make(role: Role = Role.STAFF, email: str | None = None, password: str = PASSWORD) -> User:
        with app.app_context():
            user = user_service.create_user(email or f"{role.value}@shop.example", password, role)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


@pytest.fixture
def make_order(app: Flask) -> Callable[..., Order]:
    """Factory: an order written through the real service, committed."""

    def make(
        *,
        buyer_email: str = "buyer@example.com",
        currency: str = "USD",
        lines: list[LineDraft] | None = None,
        state: str | None = None,
        **columns: Any,
    ) -> Order:
        with app.app_context():
            order = order_service.create_order(
                actor=None,
                buyer_name="Buyer Name",
                buyer_email=buyer_email,
                currency=currency,
                lines=lines or [LineDraft("Widget", 2, 1250)],
            )
            if state is not None:
                order.state = state
            for column, value in columns.items():
                setattr(order, column, value)
            db.session.commit()
            db.session.refresh(order)
            db.session.expunge(order)
            return order

    return make


_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    page = client.get("/this-page-does-not-exist").get_data(as_text=True)
    match = _CSRF_META.search(page)
    assert match, "every HTML page carries the CSRF token"
    return match.group(1)


def post_form(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client)}, **kw)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/login", {"email": email, "password": password})


@pytest.fixture
def signed_in(app: Flask, make_user: Callable[..., User]) -> Callable[[Role], FlaskClient]:
    """A fresh client signed in with a new user of the given role."""

    def sign_in(role: Role) -> FlaskClient:
        user = make_user(role)
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return sign_in


# -- Stripe: a real localstripe on a free loopback port ------------------------------------

SANDBOX_KEY = "sk_test_localstripe_tests"


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """localstripe started once for the whole run, bound to 127.0.0.1, nothing on disk."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.sandbox.localstripe_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/js.stripe.com/v3/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def sandbox_app(app: Flask, localstripe_url: str) -> Flask:
    """The app pointed at localstripe, as `make run` does."""
    app.config.update(STRIPE_API_BASE=localstripe_url, STRIPE_SECRET_KEY=SANDBOX_KEY)
    return app


def pay_link(app: Flask, order_id: int) -> str:
    from dashboard.services.pay_links import pay_links

    with app.test_request_context():
        return f"/pay/{pay_links().token_for(order_id)}"


def pay_with_test_card(app: Flask, order_id: int, card: str = "success") -> Any:
    """A buyer opens the pay link and pays with a sandbox test card."""
    buyer = app.test_client()
    return post_form(buyer, pay_link(app, order_id) + "/sandbox-card", {"card": card})


def reload(app: Flask, order_id: int) -> Order:
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order is not None
        db.session.expunge(order)
        return order


def requests_of(app: Flask, order_id: int, action: str) -> list[StripeRequest]:
    """The order's saved Stripe requests for one action, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(StripeRequest)
            .where(StripeRequest.order_id == order_id, StripeRequest.action == action)
            .order_by(StripeRequest.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def outbox_types(app: Flask, order_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxEvent.type)
                .where(OutboxEvent.order_id == order_id)
                .order_by(OutboxEvent.id)
            )
        )


def state_changes(app: Flask, order_id: int) -> list[dict[str, Any]]:
    """The data of the order's state-change timeline entries, oldest first."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(TimelineEntry.data)
                .where(
                    TimelineEntry.order_id == order_id,
                    TimelineEntry.kind == TimelineKind.STATE_CHANGE.value,
                )
                .order_by(TimelineEntry.id)
            )
        )


def stripe_pi(localstripe_url: str, pi_id: str) -> dict[str, Any]:
    """What localstripe itself says about a PaymentIntent, read without our code."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{localstripe_url}/v1/payment_intents/{pi_id}",
        headers={"Authorization": f"Bearer {SANDBOX_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, Any] = json.load(response)
        return result


# -- Stripe itself, where localstripe cannot serve: a double at the SDK's HTTP boundary -----

TEST_KEY = "sk_test_x"


@pytest.fixture
def stripe_http() -> Iterator[FakeStripeHTTP]:
    double = FakeStripeHTTP()
    yield double
    assert not double.unrouted, f"requests the double does not know: {double.unrouted}"


@pytest.fixture
def live_app(app: Flask, stripe_http: FakeStripeHTTP) -> Flask:
    """The app as in production (no localstripe), with Stripe's HTTP replaced by the double."""
    app.config.update(
        STRIPE_SECRET_KEY=TEST_KEY,
        STRIPE_API_BASE="",
        STRIPE_PUBLISHABLE_KEY="pk_test_x",
        DEFAULT_PAYMENT_METHOD="checkout",
        CHECKOUT_SESSION_LIFETIME=23 * 3600,
    )
    app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=stripe_http, max_network_retries=0
    )
    return app


# -- Stripe's webhooks: events shaped and signed exactly as Stripe sends them ---------------


def stripe_signature(
    body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """The Stripe-Signature header, computed as Stripe documents it (not with our code)."""
    import hashlib
    import hmac
    import time

    moment = int(time.time()) if timestamp is None else timestamp
    signed = f"{moment}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


_event_ids = iter(range(1, 10**9))


def stripe_event(
    type_: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
    livemode: bool = False,
) -> dict[str, Any]:
    """An event around `obj`, in the shape of Stripe's published example event."""
    import time

    return {
        "id": event_id or f"evt_test_{next(_event_ids):08d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def send_event(
    client: FlaskClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> Any:
    """POST the event to our endpoint with Stripe's headers, signed over the exact bytes."""
    import json

    body = json.dumps(event).encode()
    return client.post(
        "/webhooks/stripe",
        data=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature(body, secret, timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
    )


def stored_events(app: Flask) -> list[StripeEvent]:
    """The inbox, oldest first, detached from any session."""
    with app.app_context():
        rows = db.session.scalars(select(StripeEvent).order_by(StripeEvent.id)).all()
        db.session.expunge_all()
        return list(rows)


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, over real HTTP (threaded), until the block ends."""
    import threading

    from werkzeug.serving import make_server

    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
