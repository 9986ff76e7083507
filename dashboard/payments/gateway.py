"""Which gateway the app uses (real Stripe, or localstripe in the sandbox), and the checks
on the Stripe settings made when the app starts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from dashboard.config import ConfigError
from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.stripe_gateway import StripeGateway

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EXTENSION = "stripe_gateway"


def is_sandbox(config: Any) -> bool:
    """localstripe on this machine with a test key: the only case the sandbox is on."""
    base = str(config.get("STRIPE_API_BASE") or "")
    if not base:
        return False
    return urlsplit(base).hostname in LOOPBACK_HOSTS


def is_live_key(secret_key: str) -> bool:
    """A live-mode secret or restricted key: it moves real money."""
    return secret_key.startswith(("sk_live_", "rk_live_"))


# Stripe accepts a Checkout Session lifetime from 30 minutes to 24 hours.
CHECKOUT_LIFETIME_RANGE = (30 * 60, 24 * 3600)


def check_config(config: Any) -> None:
    low, high = CHECKOUT_LIFETIME_RANGE
    if not low <= int(config.get("CHECKOUT_SESSION_LIFETIME", low)) <= high:
        raise ConfigError(f"CHECKOUT_SESSION_LIFETIME must be from {low} to {high} seconds.")
    if config.get("STRIPE_API_BASE") and is_live_key(str(config.get("STRIPE_SECRET_KEY") or "")):
        raise ConfigError(
            "STRIPE_API_BASE is set together with a live key. A live key only ever talks "
            "to Stripe itself: unset STRIPE_API_BASE."
        )


def init_app(app: Flask) -> None:
    check_config(app.config)
    forget(app)


def forget(app: Flask) -> None:
    """Drop the app's gateway: the next use makes one from the settings as they are then."""
    app.extensions[EXTENSION] = None


def gateway() -> StripeGateway:
    """The app's gateway, made on first use (tests may put their own in its place)."""
    made: StripeGateway | None = current_app.extensions.get(EXTENSION)
    if made is None:
        config = current_app.config
        made = StripeGateway(
            secret_key=config["STRIPE_SECRET_KEY"],
            api_base=config["STRIPE_API_BASE"],
            compat=LocalstripeCompat() if is_sandbox(config) else None,
        )
        current_app.extensions[EXTENSION] = made
    return made


def mend_event_object(obj: dict[str, Any]) -> dict[str, Any]:
    """An event's object as Stripe would send it: localstripe's lack the same amounts its
    API answers lack, and get the same mending. Real Stripe's are returned untouched."""
    if obj.get("object") == "payment_intent" and is_sandbox(current_app.config):
        return LocalstripeCompat().payment_intent(obj)
    return obj
