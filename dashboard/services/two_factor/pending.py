"""Sign-ins waiting for their second step: the password matched, the code (or, when the
admin requires one, setting up an authenticator) has not yet been given.

No server-side session exists meanwhile, so no page of the dashboard opens. The browser
holds a random token in its cookie session; the row keeps its SHA-256, the user, the step,
"Keep me signed in", and an expiry (SIGN_IN_STEP_MAX_AGE). Completing the step deletes the
row, so a copy of the cookie cannot complete it again.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, select

from dashboard.extensions import db
from dashboard.models import PendingSignIn, User, utcnow
from dashboard.services.sessions import token_hash


class Step(StrEnum):
    CODE = "code"  # a code from the app, or a recovery code
    ENROL = "enrol"  # required, and not set up yet: set it up now


class Missing(Exception):
    """No such waiting sign-in: never started here, finished already, or expired."""


def open_pending(user: User, step: Step, *, remember: bool, max_age: int) -> str:
    """A waiting sign-in of `user` for `max_age` seconds; the token for the browser. The
    user's expired ones are cleared away."""
    now = utcnow()
    db.session.execute(
        delete(PendingSignIn).where(
            PendingSignIn.user_id == user.id, PendingSignIn.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        PendingSignIn(
            token_hash=token_hash(token),
            user_id=user.id,
            step=step.value,
            remember=remember,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age),
        )
    )
    db.session.flush()
    return token


def find(token: str | None, step: Step) -> tuple[PendingSignIn, User]:
    """The unexpired waiting sign-in of this token at this step, and its (active) user."""
    if not token:
        raise Missing
    found = db.session.execute(
        select(PendingSignIn, User)
        .join(User, User.id == PendingSignIn.user_id)
        .where(
            PendingSignIn.token_hash == token_hash(token),
            PendingSignIn.step == step.value,
            PendingSignIn.expires_at > utcnow(),
            User.active.is_(True),
        )
    ).first()
    if found is None:
        raise Missing
    row, user = found
    return row, user


def complete(pending: PendingSignIn) -> None:
    """The step is done: the row goes, once. Two requests completing it together: the
    second raises Missing (its DELETE finds nothing)."""
    gone = db.session.scalars(
        delete(PendingSignIn).where(PendingSignIn.id == pending.id).returning(PendingSignIn.id)
    ).all()
    if not gone:
        raise Missing


def end_all(user: User) -> None:
    """Every waiting sign-in of the user (their second step was reset)."""
    db.session.execute(delete(PendingSignIn).where(PendingSignIn.user_id == user.id))
