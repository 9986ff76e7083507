"""The tables of signing in: every attempt, the throttle's counters, and the sessions of
signed-in browsers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow


class LoginAttempt(Model):
    """Every sign-in attempt whose password was checked, and whether it matched: the record.
    The throttle counts in `SignInThrottle`."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_created", "email", "created_at"),
        Index("ix_login_attempts_remote_created", "remote_addr", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    remote_addr: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignInThrottle(Model):
    """Failed sign-ins of one key ("email:…" or "address:…") in its current window.

    An attempt takes its place under the limit before its password is checked, with one
    conditional UPDATE of this row (services/sign_in.py): attempts arriving together cannot
    all read "one failure left" and all go on.
    """

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int]
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInSession(Model):
    """A signed-in browser. Its cookies (the session, and remember-me when ticked) carry a
    random token; this row keeps only the token's SHA-256. Deleting the row signs out every
    copy of those cookies: sign-out, "Sign out everywhere", and a new password, role or
    deactivation of the user (services/sessions.py)."""

    __tablename__ = "sign_in_sessions"
    __table_args__ = (Index("ix_sign_in_sessions_user_id_expires_at", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool]
    remote_addr: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
