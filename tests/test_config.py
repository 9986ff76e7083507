"""The app factory and configuration from the environment."""

import gc
import os
import stat

import pytest

from dashboard import create_app
from dashboard.config import ConfigError
from dashboard.sandbox import discovery
from tests.support.app import free_port

ENV_NAMES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "PUBLIC_BASE_URL",
    "PAY_LINK_MAX_AGE",
    "CHECKOUT_SESSION_LIFETIME",
    "DEFAULT_PAYMENT_METHOD",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_embedded_and_safe(clean_env, tmp_path):
    app = create_app(instance_path=str(tmp_path))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'dashboard.sqlite'}"
    assert app.config["STRIPE_API_BASE"] == ""  # unset means real Stripe, never a guess
    assert app.config["STRIPE_WEBHOOK_SECRETS"] == []
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["ANALYZE_GROWN_TABLES"] is True
    assert not app.testing


def test_secret_key_is_generated_once_into_the_instance_folder(clean_env, tmp_path):
    first = create_app(instance_path=str(tmp_path)).config["SECRET_KEY"]
    second = create_app(instance_path=str(tmp_path)).config["SECRET_KEY"]
    assert first == second
    assert len(first) >= 64 and first != "dev"
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == first
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    other_instance = create_app(instance_path=str(tmp_path / "other")).config["SECRET_KEY"]
    assert other_instance != first


def test_secret_key_from_the_environment_wins_and_writes_nothing(clean_env, tmp_path):
    clean_env.setenv("SECRET_KEY", "from-the-environment")
    assert create_app(instance_path=str(tmp_path)).config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_settings_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("DATABASE_URL", "postgres://u@db.internal:5432/shop")
    clean_env.setenv("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old ,")
    clean_env.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420/")
    clean_env.setenv("PUBLIC_BASE_URL", "https://pay.shop.example/")
    clean_env.setenv("PAY_LINK_MAX_AGE", "3600")
    app = create_app(instance_path=str(tmp_path))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal:5432/shop"
    assert app.config["STRIPE_WEBHOOK_SECRETS"] == ["whsec_new", "whsec_old"]
    assert app.config["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert app.config["PUBLIC_BASE_URL"] == "https://pay.shop.example"
    assert app.config["PAY_LINK_MAX_AGE"] == 3600
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["PREFERRED_URL_SCHEME"] == "https"


def test_malformed_number_setting_names_itself(clean_env, tmp_path):
    clean_env.setenv("PAY_LINK_MAX_AGE", "a week")
    with pytest.raises(ConfigError, match="PAY_LINK_MAX_AGE must be a whole number"):
        create_app(instance_path=str(tmp_path))


def test_security_headers_on_every_page(client):
    for path in ("/login", "/healthz", "/no-such-page"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers


def test_hsts_when_served_over_https(database_url, tmp_path):
    from tests.support.app import base_config

    app = create_app(
        {**base_config(database_url), "PUBLIC_BASE_URL": "https://pay.shop.example"},
        instance_path=str(tmp_path),
    )
    assert "max-age=" in app.test_client().get("/login").headers["Strict-Transport-Security"]


@pytest.fixture
def collector_restored():
    """wsgi.py sets this process's garbage collector for a long-lived server; put it back
    afterwards, so the rest of the suite collects as before."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_wsgi_module_exposes_the_app(clean_env, tmp_path, collector_restored):
    """The app, loaded, then kept out of the collector's sight and collected less often
    (dashboard/collector.py): what gunicorn's workers and `flask --app wsgi` run."""
    clean_env.setenv("SECRET_KEY", "k")
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'w.sqlite'}")
    import importlib

    import wsgi

    gc.unfreeze()
    importlib.reload(wsgi)
    assert wsgi.app.name == "dashboard"
    assert "orders.index" in wsgi.app.view_functions
    assert gc.get_threshold() == (50_000, 50, 100)
    assert gc.get_freeze_count() > 0  # the loaded app among them


def test_a_live_key_never_talks_to_a_stand_in(clean_env, tmp_path):
    clean_env.setenv("STRIPE_SECRET_KEY", "sk_live_" + "x" * 24)
    clean_env.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420")
    with pytest.raises(ConfigError, match="live key only ever talks to Stripe itself"):
        create_app(instance_path=str(tmp_path))


@pytest.mark.parametrize(
    ("api_base", "sandbox"),
    [
        ("", False),  # real Stripe
        ("http://127.0.0.1:8420", True),
        ("http://localhost:8420", True),
        ("http://[::1]:8420", True),
        ("https://stripe-proxy.internal.example", False),  # not ours to fake: no test cards
    ],
)
def test_the_sandbox_is_on_only_for_a_stand_in_on_this_machine(api_base, sandbox):
    from dashboard.payments.gateway import is_sandbox

    assert is_sandbox({"STRIPE_API_BASE": api_base}) is sandbox


def test_checkout_lifetime_outside_stripes_range_is_refused(clean_env, tmp_path):
    clean_env.setenv("CHECKOUT_SESSION_LIFETIME", str(25 * 3600))
    with pytest.raises(ConfigError, match="CHECKOUT_SESSION_LIFETIME"):
        create_app(instance_path=str(tmp_path))


def test_test_cards_are_refused_by_real_stripe(sandbox_app, make_order):
    """With no stand-in configured, the sandbox routes answer 404 and call nothing."""
    from tests.support.web import pay_with_test_card

    sandbox_app.config["STRIPE_API_BASE"] = ""
    sandbox_app.extensions["stripe_gateway"] = None
    order = make_order()
    response = pay_with_test_card(sandbox_app, order.id)
    assert response.status_code == 404
    assert "Test cards work only in the sandbox." in response.get_data(as_text=True)


def test_the_real_gateway_refuses_sandbox_shortcuts_before_any_request():
    from dashboard.payments.errors import SandboxOnly
    from dashboard.payments.stripe_gateway import StripeGateway

    class NoNetwork:
        def request_with_retries(self, *args, **kwargs):
            raise AssertionError("nothing may be sent")

    real = StripeGateway(secret_key="sk_test_" + "x" * 24, http_client=NoNetwork())
    with pytest.raises(SandboxOnly):
        real.sandbox_card_payment_method("4242424242424242")
    with pytest.raises(SandboxOnly):
        real.sandbox_authenticate("pi_1", "pi_1_secret_2", ok=True)


# -- a sandbox running beside a `flask` command (dashboard/sandbox/discovery.py) ------------


SANDBOX_KEY = "sk_test_sandbox_localstripe"


def announce_sandbox(instance, api_base, secret_key=None):
    discovery.announce(
        instance,
        api_base=api_base,
        secret_key=secret_key or SANDBOX_KEY,
        publishable_key="pk_test_sandbox_localstripe",
        webhook_secret="whsec_sandbox",
        public_base_url="http://127.0.0.1:5000",
    )


def test_with_no_stripe_setting_a_running_sandbox_is_used(clean_env, tmp_path, localstripe_url):
    announce_sandbox(tmp_path, localstripe_url)
    config = create_app(instance_path=str(tmp_path)).config
    assert config["STRIPE_API_BASE"] == localstripe_url
    assert config["STRIPE_SECRET_KEY"] == SANDBOX_KEY
    assert config["STRIPE_WEBHOOK_SECRETS"] == ["whsec_sandbox"]
    assert config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    "setting", ["STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET"]
)
def test_any_stripe_setting_in_the_environment_wins_over_a_sandbox(
    clean_env, tmp_path, localstripe_url, setting
):
    announce_sandbox(tmp_path, localstripe_url)
    clean_env.setenv(setting, {"STRIPE_API_BASE": "http://127.0.0.1:1"}.get(setting, "x_mine"))
    config = create_app(instance_path=str(tmp_path)).config
    assert config["STRIPE_SECRET_KEY"] != SANDBOX_KEY
    assert config["STRIPE_API_BASE"] != localstripe_url


@pytest.mark.parametrize(
    ("api_base", "secret_key"),
    [
        ("localstripe", "sk_live_51Real"),  # never a live key, whatever the file says
        ("localstripe", "rk_test_restricted"),
        ("http://127.0.0.1:{free}", "sk_test_x"),  # its localstripe is gone
        ("http://stripe.example:{port}", "sk_test_x"),  # not on this machine
        ("https://127.0.0.1:{port}", "sk_test_x"),
    ],
    ids=["live-key", "not-a-secret-key", "stopped", "another-host", "not-http"],
)
def test_a_sandbox_file_that_is_stale_remote_or_live_is_ignored(
    clean_env, tmp_path, localstripe_url, api_base, secret_key
):
    port = localstripe_url.rsplit(":", 1)[1]
    base = localstripe_url if api_base == "localstripe" else api_base
    announce_sandbox(tmp_path, base.format(free=free_port(), port=port), secret_key)
    config = create_app(instance_path=str(tmp_path)).config
    assert (config["STRIPE_API_BASE"], config["STRIPE_SECRET_KEY"]) == ("", "")


def test_a_sandbox_file_that_is_not_ours_is_ignored(clean_env, tmp_path):
    (tmp_path / "sandbox-stripe.json").write_text('["not", "settings"]')
    assert create_app(instance_path=str(tmp_path)).config["STRIPE_API_BASE"] == ""


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HOLD_ALERT_HOURS", "0", "HOLD_ALERT_HOURS must be at least 1, not 0."),
        ("HOLD_ALERT_HOURS", "two days", "HOLD_ALERT_HOURS must be a whole number"),
        ("EVENT_FAILING_ALERT_AFTER", "-1", "EVENT_FAILING_ALERT_AFTER must be at least 1"),
        ("ANALYZE_GROWN_TABLES", "yes", "ANALYZE_GROWN_TABLES must be one of 0, 1, not 'yes'"),
    ],
)
def test_settings_out_of_range_name_themselves(clean_env, tmp_path, name, value, message):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app(instance_path=str(tmp_path))
