"""The buyer's links for subscriptions, signed like pay links (itsdangerous, their own
salts, a timestamp): a subscribe link names one plan and the buyer's email; a billing link
names one subscription and opens Stripe's customer portal for it. Neither can be guessed
or altered; a bad one names nothing."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SUBSCRIBE_SALT = "dashboard.subscribe-link.v1"
BILLING_SALT = "dashboard.billing-link.v1"


class LinkInvalid(Exception):
    """Tampered, truncated or signed with another key."""


class LinkExpired(Exception):
    """Genuine but older than the allowed age."""


@dataclass(frozen=True)
class SubscribeTarget:
    plan_id: int
    email: str
    name: str


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _loads(salt: str, token: str) -> dict[str, object]:
    try:
        payload = _serializer(salt).loads(token, max_age=current_app.config["PAY_LINK_MAX_AGE"])
    except SignatureExpired as error:
        raise LinkExpired from error
    except BadSignature as error:
        raise LinkInvalid from error
    if not isinstance(payload, dict):
        raise LinkInvalid
    return payload


def _base() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def subscribe_url(plan_id: int, email: str, name: str) -> str:
    token = _serializer(SUBSCRIBE_SALT).dumps({"plan": plan_id, "email": email, "name": name})
    return f"{_base()}/subscribe/{token}"


def subscribe_target(token: str) -> SubscribeTarget:
    payload = _loads(SUBSCRIBE_SALT, token)
    plan, email, name = payload.get("plan"), payload.get("email"), payload.get("name")
    if not isinstance(plan, int) or isinstance(plan, bool) or not isinstance(email, str):
        raise LinkInvalid
    return SubscribeTarget(plan, email, name if isinstance(name, str) else "")


def billing_url(subscription_id: int) -> str:
    token = _serializer(BILLING_SALT).dumps({"subscription": subscription_id})
    return f"{_base()}/billing/{token}"


def billing_target(token: str) -> int:
    found = _loads(BILLING_SALT, token).get("subscription")
    if not isinstance(found, int) or isinstance(found, bool):
        raise LinkInvalid
    return found
