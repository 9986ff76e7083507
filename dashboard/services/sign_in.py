"""Signing in: a password is checked only after the attempt has taken its place under the
throttle's limits, so attempts arriving together cannot all slip under them.

Failed sign-ins are counted per email and per address (several people's worth of typos:
an office sits behind one address), one `SignInThrottle` row per key and window. An
attempt reserves a place under both limits with one conditional UPDATE per key — a
failure counted in advance — and commits it before the password is checked: every other
worker counts it at once, and the counters are not locked while the hash runs. A correct
password gives the reservation back. While throttled the password is not even checked, so
guessing gains nothing. A second step's code (services/two_factor/) is checked under the
same counters (`under_throttle`): a wrong code costs what a wrong password does.

An unknown or deactivated email costs what a wrong password does: a hash made like every
user's is verified all the same, so how quickly the answer comes tells nothing about which
emails have an account.
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import case, literal, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.domain.emails import normalize_email
from dashboard.extensions import db, upsert_insert
from dashboard.models import LoginAttempt, SignInThrottle, User, UTCDateTime, utcnow
from dashboard.services.users import find_by_email
from dashboard.transactions import commit_before_password_check

log = logging.getLogger(__name__)

# A whole office may sit behind one address; allow it several people's worth of typos.
IP_FAILURE_FACTOR = 4
# What the login_attempts column holds (an address from a proxy's header could be longer).
MAX_ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Attempt:
    """The outcome: the user whose password matched, or None; throttled, with how long."""

    user: User | None
    throttled: bool = False
    retry_after: int = 0

    @property
    def passed(self) -> bool:
        return self.user is not None


class Checked(Protocol):
    """What a check under the throttle answers: whether it passed."""

    @property
    def passed(self) -> bool: ...


C = TypeVar("C", bound=Checked)


@dataclass(frozen=True)
class Throttled:
    """Refused before anything was checked: too many failures; `retry_after` seconds left."""

    retry_after: int


def under_throttle(
    email: str,
    remote_addr: str,
    check: Callable[[], C],
    *,
    max_failures: int,
    window_seconds: int,
    scope: str = "",
) -> C | Throttled:
    """Run `check` (a password's, or a second step's code) only once this attempt has taken
    its place under the limits of its email and address, counted as a failure in advance
    and committed; a check that passed gives its place back. Every secret a person types
    to sign in is guessed against the same counters, with the same limits. Another `scope`
    counts apart (asking for password-reset emails: services/password_reset.py)."""
    email = normalize_email(email)
    remote_addr = remote_addr[:MAX_ADDRESS_LENGTH]
    now = utcnow()
    window = timedelta(seconds=window_seconds)
    limits = {
        f"{scope}address:{remote_addr}": max_failures * IP_FAILURE_FACTOR,
        f"{scope}email:{email}": max_failures,
    }
    reserved: list[str] = []
    for key, limit in limits.items():
        if not _reserve(key, limit, now, window):
            for place in reserved:
                _give_back(place)
            log.warning("sign-in throttled", extra={"remote_addr": remote_addr})
            return Throttled(retry_after=_retry_after(key, now, window))
        reserved.append(key)
    commit_before_password_check()

    outcome = check()
    if outcome.passed:
        for place in reserved:
            _give_back(place)
    db.session.flush()
    return outcome


def attempt(
    email: str, password: str, remote_addr: str, *, max_failures: int, window_seconds: int
) -> Attempt:
    """Check a password, unless this email or address failed too often in the window."""
    email = normalize_email(email)
    remote_addr = remote_addr[:MAX_ADDRESS_LENGTH]

    def check() -> Attempt:
        stand_in = _stand_in_hash()
        user = find_by_email(email)
        if user is None:
            check_password_hash(stand_in, password)
            ok = False
        else:
            # Checked for a deactivated user too; only then is `active` looked at.
            ok = user.check_password(password) and user.active
        db.session.add(LoginAttempt(email=email, remote_addr=remote_addr, succeeded=ok))
        if not ok:
            log.info("sign-in failed", extra={"remote_addr": remote_addr})
        return Attempt(user=user if ok else None)

    outcome = under_throttle(
        email, remote_addr, check, max_failures=max_failures, window_seconds=window_seconds
    )
    if isinstance(outcome, Throttled):
        return Attempt(user=None, throttled=True, retry_after=outcome.retry_after)
    return outcome


@functools.cache
def _stand_in_hash() -> str:
    """A hash of nobody's password, made as `User.set_password` makes every user's (the
    default method and cost): verified when the email has no account. Made once per
    process, at its first sign-in attempt, whatever that attempt's email."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _reserve(key: str, limit: int, now: datetime, window: timedelta) -> bool:
    """Count one failure in advance under `limit`, atomically; False if the limit is reached.

    The row is created if missing (a conflict means another attempt created it: fine). The
    UPDATE's condition is evaluated under the row's lock (PostgreSQL) or the database's
    write lock (SQLite), so two attempts never both take the last place. A window that has
    passed starts again with this attempt.
    """
    db.session.execute(
        upsert_insert()(SignInThrottle)
        .values(key=key, failures=0, window_start=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    passed = SignInThrottle.window_start <= now - window
    placed = db.session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == key, or_(passed, SignInThrottle.failures < limit))
        .values(
            failures=case((passed, 1), else_=SignInThrottle.failures + 1),
            window_start=case(
                (passed, literal(now, UTCDateTime())), else_=SignInThrottle.window_start
            ),
        )
        .returning(SignInThrottle.failures)
        .execution_options(synchronize_session=False)
    ).first()
    return placed is not None


def _give_back(key: str) -> None:
    """The reserved failure did not happen (the password matched, or another limit
    refused the attempt)."""
    db.session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == key, SignInThrottle.failures > 0)
        .values(failures=SignInThrottle.failures - 1)
        .execution_options(synchronize_session=False)
    )


def _retry_after(key: str, now: datetime, window: timedelta) -> int:
    """Whole seconds until the key's window has passed (at least one)."""
    start = db.session.scalar(select(SignInThrottle.window_start).where(SignInThrottle.key == key))
    left = (start + window - now).total_seconds() if start is not None else 0
    return max(1, math.ceil(left))
