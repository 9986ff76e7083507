"""Staff accounts (their sign-in attempts, throttles and sessions: `models.sign_in`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"  # everything, and manages users
    STAFF = "staff"  # creates orders, moves money
    SUPPORT = "support"  # reads orders, timelines and the event log


class User(Model):
    """A staff account. Flask-Login's user: `get_id()` is the token of the session this
    object was loaded through (services/sessions.py), never the account's id, so the cookie
    names a session the server can end."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'staff', 'support')", name="role"),)
    # `session_token` below is set per request, not a column.
    __allow_unmapped__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The IANA zone the dashboard shows times in for this person; None: their browser's.
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    session_token: str | None = None
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        if self.session_token is None:
            raise RuntimeError("signed in only through services.sessions.open_session")
        return self.session_token

    @staticmethod
    def hash_of(password: str) -> str:
        return generate_password_hash(password)

    def set_password(self, password: str) -> None:
        self.password_hash = self.hash_of(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:
        return self.active

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class AlertChoice(Model):
    """A person's own choice for one kind of alert email (domain/alerts.py); without a row,
    their role's default applies."""

    __tablename__ = "alert_choices"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool]
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
