"""AI agents that buy through the checkout API (ACP), and their per-minute request counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow


class Agent(Model):
    """An agent an admin registered (services/agents.py).

    Its API key is shown once and kept only as its SHA-256 (`key_hash`), with the key's
    first characters (`key_prefix`) so people can tell keys apart. The two secrets the
    dashboard must *use* rather than compare are sealed with a key derived from SECRET_KEY
    (services/two_factor/encryption.py, one purpose each): the secret that signs our
    webhooks to the agent, and the agent's own request-signing key, when it has one.
    Never deleted: revoked, so the orders it placed keep their "via agent" name.
    """

    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("rate_limit_per_minute > 0", name="rate_limit_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    webhook_url: Mapped[str] = mapped_column(String(2048))
    webhook_secret_sealed: Mapped[str] = mapped_column(Text)
    signing_key_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    rate_limit_per_minute: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def has_signing_key(self) -> bool:
        return self.signing_key_sealed is not None


class AgentRequestCount(Model):
    """Requests one agent made in one minute (its start, UTC): the rate limit's counter,
    shared by every worker. A request takes its place with one conditional UPDATE
    (services/agents.py), so requests arriving together cannot all take the last one."""

    __tablename__ = "agent_request_counts"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    requests: Mapped[int]
