"""Fixtures: a migrated database per backend, an app per test, and signed-in clients.

Every test that takes `app` runs on SQLite, and again on PostgreSQL when
TEST_DATABASE_URL is set (CI sets it). Plain helpers and constants live in tests/support;
test modules import them from there, never from here or from one another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from playwright.sync_api import Browser
from werkzeug.security import generate_password_hash

from dashboard import MIGRATIONS_DIR, create_app
from dashboard.config import normalize_database_url
from dashboard.domain.emails import normalize_email
from dashboard.domain.orders import LineDraft, OrderState
from dashboard.extensions import db
from dashboard.models import Order, Role, User
from dashboard.payments.stripe_gateway import CONNECT_TIMEOUT, READ_TIMEOUT, StripeGateway
from dashboard.sandbox import mail_catcher
from dashboard.services import orders as order_service
from dashboard.services import users as user_service
from tests.support.app import base_config, free_port, serve
from tests.support.browser import chromium
from tests.support.database import (
    BACKENDS,
    TEST_DATABASE_URL,
    empty_and_dispose,
    reload,
    reset_postgres_schema,
)
from tests.support.faults import FaultyHTTP
from tests.support.localstripe import SANDBOX_KEY
from tests.support.smtp import MailServer
from tests.support.stripe import AMOUNT, TEST_KEY, FakeStripeHTTP, intent
from tests.support.two_factor import Enrolled, enrol
from tests.support.web import PASSWORD, QUICK_HASH, login, pay_with_test_card, post_form


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
    empty_and_dispose(app)


@pytest.fixture(autouse=True)
def _push_request_context() -> None:
    """Replaces pytest-flask's fixture of this name, which keeps one request context open
    for the whole test: every client request would then share its `g` and database
    session, as no two real requests do, and hide bugs a real server would show."""


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """Factory: a user created through the real service, committed. With `quick_hash` the
    row is written as test data instead, its hash of the same password made with one round
    (QUICK_HASH), for tests that sign in and are not about signing in: the sign-in still
    checks the password for real, only faster."""

    def make(
        role: Role = Role.STAFF,
        email: str | None = None,
        password: str = PASSWORD,
        *,
        quick_hash: bool = False,
    ) -> User:
        email = email or f"{role.value}@shop.example"
        with app.app_context():
            if quick_hash:
                user = User(
                    email=normalize_email(email),
                    role=role.value,
                    active=True,
                    password_hash=generate_password_hash(password, method=QUICK_HASH),
                )
                db.session.add(user)
            else:
                user = user_service.create_user(email, password, role)
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


@pytest.fixture
def signed_in(app: Flask, make_user: Callable[..., User]) -> Callable[..., FlaskClient]:
    """A fresh client signed in with a new user of the given role (`quick_hash`: see
    make_user)."""

    def sign_in(role: Role, *, quick_hash: bool = False) -> FlaskClient:
        user = make_user(role, quick_hash=quick_hash)
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return sign_in


@pytest.fixture
def enrolled(app: Flask, make_user: Callable[..., User]) -> Callable[..., Enrolled]:
    """Factory: a new user who set up two-step sign-in through the account page (signed in
    for that, then signed out). `quick_hash`: see make_user."""

    def make(role: Role = Role.STAFF, email: str | None = None, *, quick_hash: bool = True):
        user = make_user(role, email, quick_hash=quick_hash)
        client = app.test_client()
        assert login(client, user.email).status_code == 302
        done = enrol(client, user.email)
        post_form(client, "/logout")
        return done

    return make


@pytest.fixture
def mail_server(app: Flask) -> Iterator[MailServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, started, with the app's MAIL_*
    settings pointing at it; retries in the relay come at once (no backoff to wait for)."""
    server = MailServer()
    server.start()
    app.config.update(server.config(), OUTBOX_RETRY_BASE=0, OUTBOX_RETRY_MAX=0)
    yield server
    server.stop()


@pytest.fixture
def catcher(app: Flask) -> Iterator[int]:
    """The sandbox's own SMTP server (it keeps what it receives in a Maildir, which the
    sandbox's mail page reads), as `make run` starts it, for this test's app; its port."""
    port = free_port()
    controller = mail_catcher.start(Path(app.instance_path), port)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield port
    controller.stop()


# -- Stripe: a real localstripe on a free loopback port ------------------------------------


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """localstripe started once for the whole run, bound to 127.0.0.1, nothing on disk."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
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


@pytest.fixture
def runner(sandbox_app: Flask) -> FlaskCliRunner:
    """`flask ...` commands of the app pointed at localstripe."""
    return sandbox_app.test_cli_runner()


@pytest.fixture
def place_hold(sandbox_app: Flask, make_order: Callable[..., Order]) -> Callable[[], Order]:
    """Factory: a new $25.00 order the buyer has paid with the sandbox's success card, a
    real hold at localstripe, authorized here."""

    def place() -> Order:
        order = make_order()
        response = pay_with_test_card(sandbox_app, order.id)
        assert "$25.00 is on hold on your card" in response.get_data(as_text=True)
        held = reload(sandbox_app, order.id)
        assert (held.state, held.amount_capturable) == (OrderState.AUTHORIZED.value, 2500)
        return held

    return place


@pytest.fixture
def held(place_hold: Callable[[], Order]) -> Order:
    """A buyer has paid: a real hold of $25.00 at localstripe, authorized here."""
    return place_hold()


@pytest.fixture
def http() -> Iterator[FaultyHTTP]:
    """The SDK's HTTP client with faults on call, in front of localstripe, with the
    gateway's timeouts. One requests.Session shared by every thread, so closing it closes
    all sockets."""
    session = requests.Session()
    client = FaultyHTTP(
        stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), session=session)
    )
    yield client
    client.close()
    session.close()


# -- Stripe itself, where localstripe cannot serve: a double at the SDK's HTTP boundary -----


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


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The app (pointed at localstripe too, when the test also takes sandbox_app: the same
    app) served on a free loopback port, for a real browser."""
    with serve(app) as url:
        yield url


@pytest.fixture
def browser(server: str) -> Iterator[Browser]:
    """Debian's Chromium; closed before the server stops (it depends on it), so no request
    is left in flight."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def authorized(
    live_app: Flask, stripe_http: FakeStripeHTTP, make_order: Callable[..., Order]
) -> Order:
    """An order holding AMOUNT ($30.00) on pi_test_hold, a PaymentIntent the double knows."""
    order = make_order(
        state="authorized",
        stripe_payment_intent_id="pi_test_hold",
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    stripe_http.intents["pi_test_hold"] = intent(
        order.id, status="requires_capture", capturable=AMOUNT
    )
    return order
