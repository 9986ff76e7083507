"""Secrets sealed with keys derived from SECRET_KEY, one key per purpose.

Fernet (the `cryptography` package: AES-128-CBC with an HMAC-SHA256, and a timestamp) with
a key made by HKDF-SHA256 from SECRET_KEY and the purpose's name: a TOTP secret stored in
the database, and the set-up form's hidden copy of a secret not yet confirmed, can each be
opened only as what they are, and a copy of the database without SECRET_KEY opens neither.
A new SECRET_KEY makes stored secrets unreadable: those users' second step is then reset
with `flask user reset-2fa` (README), and agents are registered again (docs/agents.md). An
AI agent's webhook secret and request-signing key are sealed the same way, each as its own
purpose.
"""

from __future__ import annotations

import base64
from enum import StrEnum

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class Purpose(StrEnum):
    STORED_SECRET = "dashboard.two-factor.stored-secret.v1"  # noqa: S105 (a key's name)
    ENROLMENT = "dashboard.two-factor.enrolment.v1"
    # An AI agent's secrets the dashboard must use, not just compare (services/agents.py).
    AGENT_WEBHOOK_SECRET = "dashboard.agents.webhook-secret.v1"  # noqa: S105 (a key's name)
    AGENT_SIGNING_KEY = "dashboard.agents.signing-key.v1"


class Unreadable(Exception):
    """Not sealed for this purpose with this SECRET_KEY (tampered, or another key)."""


class Expired(Exception):
    """Sealed here, but longer ago than allowed."""


def _fernet(purpose: Purpose) -> Fernet:
    secret_key = current_app.config["SECRET_KEY"]
    material = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.value.encode())
    return Fernet(base64.urlsafe_b64encode(key.derive(material)))


def seal(purpose: Purpose, plaintext: str, *, at: int | None = None) -> str:
    """Sealed now, or as if at Unix time `at` (how a test makes a page from the past)."""
    fernet = _fernet(purpose)
    if at is None:
        return fernet.encrypt(plaintext.encode()).decode("ascii")
    return fernet.encrypt_at_time(plaintext.encode(), at).decode("ascii")


def unseal(purpose: Purpose, token: str, *, max_age: int | None = None) -> str:
    """The plaintext; Unreadable, or Expired when older than `max_age` seconds."""
    fernet = _fernet(purpose)
    try:
        return fernet.decrypt(token, ttl=max_age).decode()
    except (InvalidToken, ValueError, TypeError) as error:
        if max_age is not None:
            try:
                fernet.decrypt(token)
            except (InvalidToken, ValueError, TypeError):
                raise Unreadable from error
            raise Expired from error
        raise Unreadable from error
