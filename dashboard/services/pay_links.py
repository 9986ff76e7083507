"""Buyer pay links: signed, unguessable, expiring tokens that name exactly one order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "dashboard.pay-link.v1"
# A pay link's token in a path or a URL: everything after /pay/ up to the next separator;
# and a password-reset link's (views/password_reset.py), a subscribe or billing link's
# (services/subscriptions/links.py), as much keys while they live.
_TOKEN_PREFIXES = ("/pay/", "/login/reset/", "/subscribe/", "/billing/")
_TOKEN_IN_PATH = re.compile(r"(/pay/|/login/reset/|/subscribe/|/billing/)[^/?#\s\"]+")
REDACTED = "<redacted>"


class PayLinkInvalid(Exception):
    """Tampered, truncated or signed with another key: it names no order."""


class PayLinkExpired(Exception):
    """Genuine but older than the allowed age."""


@dataclass(frozen=True)
class PayLinks:
    secret_key: str
    max_age: int

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret_key, salt=SALT)

    def token_for(self, order_id: int) -> str:
        return self._serializer().dumps({"order": order_id})

    def order_id_from(self, token: str) -> int:
        try:
            payload = self._serializer().loads(token, max_age=self.max_age)
        except SignatureExpired as error:
            raise PayLinkExpired from error
        except BadSignature as error:
            raise PayLinkInvalid from error
        order_id = payload.get("order") if isinstance(payload, dict) else None
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            raise PayLinkInvalid
        return order_id


def pay_links() -> PayLinks:
    """The app's pay links: signed with its SECRET_KEY, valid for PAY_LINK_MAX_AGE."""
    return PayLinks(current_app.config["SECRET_KEY"], current_app.config["PAY_LINK_MAX_AGE"])


def pay_url(order_id: int) -> str:
    """A freshly signed pay link for the order, as the buyer opens it (any context: a
    request, a command)."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return f"{base}/pay/{pay_links().token_for(order_id)}"


def redact_pay_links(text: str) -> str:
    """`text` with every pay link's token replaced: a token is the key to its order's pay
    page, so logs keep `/pay/<redacted>/done` and never the token (a password-reset link's
    too: `/login/reset/<redacted>`)."""
    if not any(prefix in text for prefix in _TOKEN_PREFIXES):
        return text
    return _TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)
