"""Configuration from the environment (12-factor), with defaults that are safe to run."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from dashboard.sandbox import discovery


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it."""


def generated_secret_key(instance_path: Path) -> str:
    """A key generated once into the instance folder, used when SECRET_KEY is unset."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two workers starting at once must end up with the same key, not two.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def normalize_database_url(url: str) -> str:
    """postgres:// and postgresql:// URLs get the psycopg 3 driver SQLAlchemy should use."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _csv(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from error


def _at_least(name: str, default: int, minimum: int) -> int:
    value = _int(name, default)
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}.")
    return value


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = os.environ.get(name) or default
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}.")
    return raw


# Any of these in the environment means Stripe is configured there, not by a sandbox.
STRIPE_SETTINGS = (
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
)


def from_running_sandbox(instance_path: Path) -> dict[str, Any]:
    """With no Stripe setting in the environment, those of a sandbox (`make run`) running
    from this instance folder, so a `flask` command beside it talks to its localstripe;
    nothing otherwise (see dashboard/sandbox/discovery.py)."""
    if any(os.environ.get(name) for name in STRIPE_SETTINGS):
        return {}
    sandbox = discovery.running_sandbox(instance_path)
    if sandbox is None:
        return {}
    found = {
        "STRIPE_API_BASE": sandbox["api_base"],
        "STRIPE_SECRET_KEY": sandbox["secret_key"],
        "STRIPE_PUBLISHABLE_KEY": sandbox["publishable_key"],
        "STRIPE_WEBHOOK_SECRETS": [sandbox["webhook_secret"]],
    }
    if not os.environ.get("PUBLIC_BASE_URL"):
        found["PUBLIC_BASE_URL"] = sandbox["public_base_url"]
    return found


def from_environment(instance_path: Path) -> dict[str, Any]:
    """Every setting the app reads, taken from the environment (Stripe's from a running
    sandbox when the environment names none)."""
    return {
        **_from_environment(instance_path),
        **from_running_sandbox(instance_path),
    }


def _from_environment(instance_path: Path) -> dict[str, Any]:
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(
            os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'dashboard.sqlite'}"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRETS": _csv("STRIPE_WEBHOOK_SECRET"),
        # Stripe's events are a few KB; anything near this is not one of them.
        "WEBHOOK_MAX_BYTES": _int("WEBHOOK_MAX_BYTES", 512 * 1024),
        # Any request body: the largest is a dispute's document (Stripe takes 5 MB) and its
        # form. Larger ones are refused (413) before they are read. Only the views marked
        # `takes_large_bodies` (dashboard/web.py) take that much; every other form is held
        # to FORM_MAX_BYTES.
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024 + 64 * 1024,
        "FORM_MAX_BYTES": _int("FORM_MAX_BYTES", 256 * 1024),
        # At most this many deliveries arriving together on a worker share one transaction
        # (dashboard/services/group_commit.py); 1 receives each on its own.
        "WEBHOOK_GROUP_LIMIT": _int("WEBHOOK_GROUP_LIMIT", 32),
        # A 2xx means "stored durably"; each worker applies what was stored in a thread of
        # its own (dashboard/services/inbox/applier.py), in pages of at most this many.
        # Off ("0"), `flask stripe apply` (cron) is what applies them.
        "WEBHOOK_APPLY_IN_BACKGROUND": _choice("WEBHOOK_APPLY_IN_BACKGROUND", ("0", "1"), "1")
        == "1",
        "WEBHOOK_APPLY_PAGE": _at_least("WEBHOOK_APPLY_PAGE", 200, 1),
        # PostgreSQL: the sync and the appliers ANALYZE a table they have grown past its
        # statistics (dashboard/services/planner_statistics.py). "0" leaves it to autovacuum.
        "ANALYZE_GROWN_TABLES": _choice("ANALYZE_GROWN_TABLES", ("0", "1"), "1") == "1",
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", "").rstrip("/"),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "PAY_LINK_MAX_AGE": _int("PAY_LINK_MAX_AGE", 7 * 24 * 3600),
        # Apple Pay's domain association file (from Stripe's Dashboard), served at
        # /.well-known/apple-developer-merchantid-domain-association; unset: 404.
        "APPLE_PAY_DOMAIN_FILE": os.environ.get("APPLE_PAY_DOMAIN_FILE", ""),
        "ORDERS_PER_PAGE": _int("ORDERS_PER_PAGE", 50),
        "EVENTS_PER_PAGE": _int("EVENTS_PER_PAGE", 50),
        "DEFAULT_PAYMENT_METHOD": _choice(
            "DEFAULT_PAYMENT_METHOD", ("checkout", "payment_page"), "checkout"
        ),
        "CHECKOUT_SESSION_LIFETIME": _int("CHECKOUT_SESSION_LIFETIME", 23 * 3600),
        # The merchant's consent for `flask stripe sweep-holds --void-expired` to release
        # holds past their capture deadline; off, it only lists them.
        "SWEEP_VOID_EXPIRED_HOLDS": _choice("SWEEP_VOID_EXPIRED_HOLDS", ("0", "1"), "0") == "1",
        # A buyer's pages call Stripe on the merchant's account: an order's return page
        # re-reads it at most once per interval; one pay link, or one address, reaches
        # Stripe at most so often per window (dashboard/services/buyer_limits.py).
        "PAY_REREAD_INTERVAL": _int("PAY_REREAD_INTERVAL", 5),
        "PAY_STRIPE_CALL_WINDOW": _int("PAY_STRIPE_CALL_WINDOW", 60),
        "PAY_STRIPE_CALLS_PER_LINK": _int("PAY_STRIPE_CALLS_PER_LINK", 10),
        "PAY_STRIPE_CALLS_PER_ADDRESS": _int("PAY_STRIPE_CALLS_PER_ADDRESS", 60),
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_FAILURE_WINDOW": _int("LOGIN_FAILURE_WINDOW", 15 * 60),
        # Seconds a sign-in lasts on the server: a working day, or a month when the person
        # ticked "Keep me signed in" (the remember-me cookie lasts as long).
        "SESSION_MAX_AGE": _int("SESSION_MAX_AGE", 12 * 3600),
        "REMEMBER_ME_MAX_AGE": _int("REMEMBER_ME_MAX_AGE", 30 * 24 * 3600),
        # Seconds between a matching password and its second step (the code, or setting one
        # up when required) before the sign-in must start again.
        "SIGN_IN_STEP_MAX_AGE": _int("SIGN_IN_STEP_MAX_AGE", 5 * 60),
        # Seconds a password-reset link works (it also dies once used, or once the password
        # changes another way).
        "PASSWORD_RESET_MAX_AGE": _int("PASSWORD_RESET_MAX_AGE", 30 * 60),
        # Hours before a hold's capture deadline when it counts as about to lapse: staff are
        # emailed about it (once per hold) and may re-authorize it from then on. And the
        # failures in a row before a Stripe event that keeps failing is emailed.
        "HOLD_ALERT_HOURS": _at_least("HOLD_ALERT_HOURS", 48, 1),
        "EVENT_FAILING_ALERT_AFTER": _at_least("EVENT_FAILING_ALERT_AFTER", 3, 1),
        # Requests a newly registered AI agent may make to the checkout API per minute
        # (each agent keeps its own, set when registered: docs/agents.md).
        "AGENT_RATE_LIMIT_PER_MINUTE": _at_least("AGENT_RATE_LIMIT_PER_MINUTE", 60, 1),
        # How an agent's payment (a shared payment token) is taken: a hold staff capture
        # (`manual`, as every payment here) or charged at once (`automatic`).
        "ACP_CAPTURE_METHOD": _choice("ACP_CAPTURE_METHOD", ("manual", "automatic"), "manual"),
        **_mail_and_relay(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # CSRF tokens live as long as the session, so a form left open over lunch still posts.
        "WTF_CSRF_TIME_LIMIT": None,
    }


def _flag(name: str) -> bool:
    return _choice(name, ("0", "1"), "0") == "1"


def _mail_and_relay() -> dict[str, Any]:
    """How `flask outbox relay` reaches the SMTP server and, optionally, a message broker,
    and how it retries (docs/outbox.md). Names as Flask-Mail's, so they read familiar."""
    settings: dict[str, Any] = {
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or "localhost",
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER") or "dashboard@localhost",
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", 10),
        "OUTBOX_AMQP_URL": os.environ.get("OUTBOX_AMQP_URL", ""),
        "OUTBOX_AMQP_EXCHANGE": os.environ.get("OUTBOX_AMQP_EXCHANGE") or "dashboard.events",
        "OUTBOX_MAX_ATTEMPTS": _int("OUTBOX_MAX_ATTEMPTS", 12),
        "OUTBOX_RETRY_BASE": _int("OUTBOX_RETRY_BASE", 30),
        "OUTBOX_RETRY_MAX": _int("OUTBOX_RETRY_MAX", 3600),
        "OUTBOX_LEASE": _int("OUTBOX_LEASE", 300),
        "AGENT_WEBHOOK_TIMEOUT": _at_least("AGENT_WEBHOOK_TIMEOUT", 10, 1),
    }
    if settings["MAIL_USE_TLS"] and settings["MAIL_USE_SSL"]:
        raise ConfigError(
            "Set one of MAIL_USE_TLS (STARTTLS, usually port 587) and MAIL_USE_SSL (TLS from"
            " the start, usually port 465), not both."
        )
    return settings


def derived(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings that follow from others: served over https means Secure cookies and HSTS;
    the remember-me cookie lasts as long as the session it remembers."""
    https = str(settings["PUBLIC_BASE_URL"]).startswith("https://")
    return {
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=int(settings["REMEMBER_ME_MAX_AGE"])),
        "PREFERRED_URL_SCHEME": "https" if https else "http",
    }
