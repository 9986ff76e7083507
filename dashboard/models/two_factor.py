"""The tables of two-step sign-in: each user's TOTP secret (encrypted), their one-use
recovery codes (hashed), and sign-ins waiting for their second step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow


class TwoFactorCredential(Model):
    """A user's confirmed authenticator: the TOTP secret, encrypted with a key derived from
    SECRET_KEY (services/two_factor/encryption.py), never stored in the clear; and the
    time step of the last code accepted, so that no code is accepted twice."""

    __tablename__ = "two_factor_credentials"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_ciphertext: Mapped[str] = mapped_column(String(255))
    last_used_step: Mapped[int]
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(Model):
    """One of a user's recovery codes, hashed as passwords are; `used_at` once it has signed
    someone in (it never works again). Making new codes deletes the old ones."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingSignIn(Model):
    """A sign-in whose password matched, waiting for its second step: a code (`code`), or,
    when the admin setting requires one and the user has none, setting one up (`enrol`).

    The browser's cookie session carries a random token; this row keeps only its SHA-256,
    with an expiry. No server-side session exists until the step is done, and the row is
    deleted when it is (one use).
    """

    __tablename__ = "pending_sign_ins"
    __table_args__ = (
        CheckConstraint("step IN ('code', 'enrol')", name="step"),
        Index("ix_pending_sign_ins_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(8))
    remember: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
