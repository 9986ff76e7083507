"""Password reset by email, for staff who forgot theirs.

Asking: whatever the address, the answer is the same; for an active account an email with
a link is queued (services/mail.py, sent by the relay), for any other address nothing is.
Both do the same lookups and the same throttle write, and no password hash is computed on
either, so the time of the answer says little more than the answer.

The link: a token signed with SECRET_KEY (itsdangerous), naming the user and a fingerprint
of their password hash, valid PASSWORD_RESET_MAX_AGE seconds. Once the password changes —
through this link, or any other way — the fingerprint no longer matches and every link made
before dies: single use, without a table of used links. The change itself is conditional
on the hash the link was made for (users.replace_password), so two uses at once change it
once. A new password ends every session of the user.

Both steps are throttled: asking, per address and email in a scope of its own (so asking
for links never locks anyone out of signing in); using a link, under the sign-in counters,
with a link that does not work counted as a failed sign-in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from dashboard.domain.emails import normalize_email
from dashboard.extensions import db
from dashboard.models import User
from dashboard.services import mail, sign_in, users

log = logging.getLogger(__name__)

SALT = "dashboard.password-reset.v1"
KIND = "password_reset"
# The sign-in throttle's email key for a link that names no user (tampered, garbled).
NO_ACCOUNT = "reset-link@invalid"


@dataclass(frozen=True)
class Asked:
    """Asking for a link is never a "success" that gives the throttle's place back: every
    request counts, so one address cannot fill an inbox."""

    passed: bool = False


@dataclass(frozen=True)
class Reset:
    """Using a link: whether the password changed."""

    passed: bool


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def _max_age() -> int:
    return int(current_app.config["PASSWORD_RESET_MAX_AGE"])


def ask(
    email: str, remote_addr: str, *, link_for: Callable[[str], str]
) -> sign_in.Throttled | None:
    """Queue a reset email if `email` is an active account's; None, or Throttled."""
    config = current_app.config

    def check() -> Asked:
        user = users.find_by_email(email)
        if user is not None and user.active:
            _queue_email(user, link_for)
        return Asked()

    outcome = sign_in.under_throttle(
        normalize_email(email),
        remote_addr,
        check,
        max_failures=config["LOGIN_MAX_FAILURES"],
        window_seconds=config["LOGIN_FAILURE_WINDOW"],
        scope="reset-",
    )
    return outcome if isinstance(outcome, sign_in.Throttled) else None


def token_for(user: User) -> str:
    """A reset link's token for the user's current password."""
    return str(_serializer().dumps({"user": user.id, "pw": _fingerprint(user)}))


def _queue_email(user: User, link_for: Callable[[str], str]) -> None:
    token = token_for(user)
    minutes = _max_age() // 60
    body = (
        "Hello,\n\n"
        f"Someone, probably you, asked to reset the password of {user.email} on the"
        " merchant dashboard.\n\n"
        f"Choose a new password here within {minutes} minutes:\n\n"
        f"{link_for(token)}\n\n"
        "The link works once. If you did not ask for it, ignore this email: your password"
        " stays as it is.\n"
    )
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    mail.queue_email(
        user.email,
        "Reset your password for the merchant dashboard",
        body,
        kind=KIND,
        dedupe_key=f"{user.id}:{digest}",
    )
    log.info("password reset asked", extra={"user_id": user.id})


def user_for(token: str) -> User | None:
    """The active user a live, unused link was made for; None otherwise."""
    try:
        payload = _serializer().loads(token, max_age=_max_age())
    except BadSignature:  # SignatureExpired is one too
        return None
    if not isinstance(payload, dict):
        return None
    user_id, fingerprint = payload.get("user"), payload.get("pw")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or fingerprint != _fingerprint(user):
        return None
    return user


def reset(token: str, password: str, remote_addr: str) -> Reset | sign_in.Throttled:
    """Set the new password through a link (its strength checked by the caller's form)."""
    config = current_app.config
    named = user_for(token)
    email = named.email if named is not None else NO_ACCOUNT

    def check() -> Reset:
        user = user_for(token)
        if user is None:
            return Reset(passed=False)
        expected = user.password_hash
        return Reset(passed=users.replace_password(user, expected, password))

    return sign_in.under_throttle(
        email,
        remote_addr,
        check,
        max_failures=config["LOGIN_MAX_FAILURES"],
        window_seconds=config["LOGIN_FAILURE_WINDOW"],
    )
