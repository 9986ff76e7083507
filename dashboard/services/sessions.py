"""Signed-in browsers, kept on the server so that they can be ended there.

A sign-in opens a session: a random token goes into the browser's cookies (Flask-Login
keeps `User.get_id()`, the token, in the session cookie and, with "Keep me signed in", in
the remember-me cookie), and its SHA-256 into a `SignInSession` row with an expiry
(SESSION_MAX_AGE, or REMEMBER_ME_MAX_AGE when remembered). Every request finds its user
through that row. Ending the row ends the session for every copy of its cookies.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from dashboard.extensions import db
from dashboard.models import SignInSession, User, utcnow

log = logging.getLogger(__name__)

MAX_ADDRESS_LENGTH = 64


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user: User, *, remember: bool, remote_addr: str, max_age: int) -> str:
    """A new session of `user` for `max_age` seconds; its token is also set on `user`, for
    Flask-Login's `login_user`. The user's expired sessions are cleared away."""
    now = utcnow()
    db.session.execute(
        delete(SignInSession).where(
            SignInSession.user_id == user.id, SignInSession.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        SignInSession(
            user_id=user.id,
            token_hash=token_hash(token),
            remember=remember,
            remote_addr=remote_addr[:MAX_ADDRESS_LENGTH],
            created_at=now,
            expires_at=now + timedelta(seconds=max_age),
        )
    )
    db.session.flush()
    user.session_token = token
    log.info("session opened", extra={"user_id": user.id, "remember": remember})
    return token


def signed_in_user(token: str) -> User | None:
    """The active user of an open, unexpired session, carrying its token; else None."""
    user = db.session.scalar(
        select(User)
        .join(SignInSession, SignInSession.user_id == User.id)
        .where(
            SignInSession.token_hash == token_hash(token),
            SignInSession.expires_at > utcnow(),
            User.active.is_(True),
        )
    )
    if user is not None:
        user.session_token = token
    return user


def sessions_of(user: User) -> list[SignInSession]:
    """The user's open sessions, newest first."""
    return list(
        db.session.scalars(
            select(SignInSession)
            .where(SignInSession.user_id == user.id, SignInSession.expires_at > utcnow())
            .order_by(SignInSession.id.desc())
        )
    )


def end_session(token: str) -> None:
    """Sign out the browser holding this token, and every copy of its cookies."""
    db.session.execute(delete(SignInSession).where(SignInSession.token_hash == token_hash(token)))


def end_all_sessions(user: User) -> int:
    """Sign the user out everywhere; how many sessions were open."""
    ended = db.session.scalars(
        delete(SignInSession).where(SignInSession.user_id == user.id).returning(SignInSession.id)
    ).all()
    count = len(ended)
    log.info("sessions ended", extra={"user_id": user.id, "sessions": count})
    return count
