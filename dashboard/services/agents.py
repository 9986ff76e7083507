"""AI agents that buy through the checkout API: registering them, knowing them by their API
key, and holding each to its rate limit (docs/agents.md).

An API key is `acp_` and 43 random URL-safe characters (256 bits). Only its SHA-256 is
stored, with its first 12 characters to tell keys apart on the admin page: a copy of the
database cannot call the API. A key so random needs no slow hash: nobody can guess it from
its SHA-256. `authenticate` looks the hash up and compares it in constant time, so the
answer's timing tells nothing about how much of a key was right.

The webhook secret (signs our webhooks to the agent) and the agent's request-signing key
(verifies its `Signature` header) must be used, not compared: they are sealed with a key
derived from SECRET_KEY (services/two_factor/encryption.py), one purpose each.

The rate limit counts requests per agent per minute in `agent_request_counts`, one row per
agent and minute, taken with one conditional UPDATE, as sign-in failures are counted
(services/sign_in.py): every gunicorn worker and host counts against the same row, and
requests arriving together never all take the last place.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, select, update

from dashboard.extensions import db, upsert_insert
from dashboard.models import Agent, AgentRequestCount, utcnow
from dashboard.services.two_factor import encryption
from dashboard.services.two_factor.encryption import Purpose
from dashboard.transactions import commit_rate_limit_place

log = logging.getLogger(__name__)

KEY_PREFIX = "acp_"
# What the admin page shows of a key: the prefix and 8 random characters.
SHOWN_KEY_LENGTH = 12
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
MAX_NAME_LENGTH = 100
MAX_URL_LENGTH = 2048
MAX_SIGNING_KEY_LENGTH = 512
# A signing key shorter than this is too easy to guess for an HMAC key.
MIN_SIGNING_KEY_LENGTH = 32
MAX_RATE_LIMIT = 100_000
_NAME = re.compile("[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")


class AgentError(ValueError):
    """What an admin typed cannot register (or find) an agent; the message says why."""


@dataclass(frozen=True)
class Registered:
    """A new agent, with the two secrets to hand over once: its API key (never shown
    again) and the secret our webhooks to it are signed with."""

    agent: Agent
    api_key: str
    webhook_secret: str


@dataclass(frozen=True)
class RateVerdict:
    """Whether one more request of the agent fits this minute; if not, `retry_after`
    seconds until the next minute begins."""

    allowed: bool
    retry_after: int = 0


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def authenticate(bearer_key: str) -> Agent | None:
    """The agent whose API key this is, or None: unknown, malformed or revoked alike."""
    presented = key_hash(bearer_key)
    agent = db.session.scalar(select(Agent).where(Agent.key_hash == presented))
    if agent is None or not hmac.compare_digest(agent.key_hash, presented):
        return None
    if agent.revoked_at is not None:
        log.info("revoked agent key used", extra={"agent_id": agent.id})
        return None
    return agent


def take_rate_limit_place(agent: Agent, *, now: datetime | None = None) -> RateVerdict:
    """Count one request of `agent` in the current minute, unless its limit is reached.

    The row is made if missing (a conflict means another request made it), then one
    UPDATE adds the request only while under the limit: evaluated under the row's lock
    (PostgreSQL) or the write lock (SQLite). Committed at once (call it first, before the
    request writes anything): a request refused later, or rolled back, still counts.
    """
    now = now or utcnow()
    minute = now.replace(second=0, microsecond=0)
    db.session.execute(
        delete(AgentRequestCount).where(
            AgentRequestCount.agent_id == agent.id, AgentRequestCount.minute < minute
        )
    )
    db.session.execute(
        upsert_insert()(AgentRequestCount)
        .values(agent_id=agent.id, minute=minute, requests=0)
        .on_conflict_do_nothing(index_elements=["agent_id", "minute"])
    )
    placed = db.session.execute(
        update(AgentRequestCount)
        .where(
            AgentRequestCount.agent_id == agent.id,
            AgentRequestCount.minute == minute,
            AgentRequestCount.requests < agent.rate_limit_per_minute,
        )
        .values(requests=AgentRequestCount.requests + 1)
        .returning(AgentRequestCount.requests)
        .execution_options(synchronize_session=False)
    ).first()
    commit_rate_limit_place()
    if placed is not None:
        return RateVerdict(allowed=True)
    left = (minute + timedelta(minutes=1) - now).total_seconds()
    log.info("agent rate limited", extra={"agent_id": agent.id})
    return RateVerdict(allowed=False, retry_after=max(1, math.ceil(left)))


def webhook_secret(agent: Agent) -> str:
    """The secret our webhooks to the agent are signed with (encryption.Unreadable after
    SECRET_KEY changed)."""
    return encryption.unseal(Purpose.AGENT_WEBHOOK_SECRET, agent.webhook_secret_sealed)


def signing_key(agent: Agent) -> str | None:
    """The key the agent signs its requests with, or None when it has none."""
    if agent.signing_key_sealed is None:
        return None
    return encryption.unseal(Purpose.AGENT_SIGNING_KEY, agent.signing_key_sealed)


def register(
    name: str,
    webhook_url: str,
    *,
    signing_key: str | None = None,
    webhook_secret: str | None = None,
    rate_limit_per_minute: int | None = None,
) -> Registered:
    """A new agent with a new API key (and a new webhook secret unless one is given)."""
    name = _clean_name(name)
    url = _clean_url(webhook_url)
    limit = (
        current_app.config["AGENT_RATE_LIMIT_PER_MINUTE"]
        if rate_limit_per_minute is None
        else rate_limit_per_minute
    )
    if not 1 <= limit <= MAX_RATE_LIMIT:
        raise AgentError(f"The rate limit must be between 1 and {MAX_RATE_LIMIT:,} a minute.")
    if db.session.scalar(select(Agent.id).where(Agent.name == name)) is not None:
        raise AgentError(f"An agent is already named {name!r}.")
    secret = _clean_secret(webhook_secret, "webhook secret") if webhook_secret else None
    secret = secret or WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)
    signing = _clean_secret(signing_key, "signing key") if signing_key is not None else None
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    agent = Agent(
        name=name,
        key_hash=key_hash(api_key),
        key_prefix=api_key[:SHOWN_KEY_LENGTH],
        webhook_url=url,
        webhook_secret_sealed=encryption.seal(Purpose.AGENT_WEBHOOK_SECRET, secret),
        signing_key_sealed=(
            encryption.seal(Purpose.AGENT_SIGNING_KEY, signing) if signing is not None else None
        ),
        rate_limit_per_minute=limit,
    )
    db.session.add(agent)
    db.session.flush()
    log.info("agent registered", extra={"agent_id": agent.id})
    return Registered(agent=agent, api_key=api_key, webhook_secret=secret)


def all_agents() -> list[Agent]:
    """Every agent, the active ones first, then by name."""
    return list(
        db.session.scalars(select(Agent).order_by(Agent.revoked_at.is_not(None), Agent.name))
    )


def find(name_or_id: str | int) -> Agent:
    """The agent with this id or name; AgentError when there is none."""
    agent: Agent | None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        agent = db.session.get(Agent, int(name_or_id))
    else:
        agent = db.session.scalar(select(Agent).where(Agent.name == str(name_or_id).strip()))
    if agent is None:
        raise AgentError(f"No agent is named {name_or_id!r}.")
    return agent


def revoke(agent: Agent) -> bool:
    """Refuse the agent's key from now on; False when it was already revoked."""
    if agent.revoked_at is not None:
        return False
    agent.revoked_at = utcnow()
    db.session.flush()
    log.info("agent revoked", extra={"agent_id": agent.id})
    return True


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise AgentError("Give the agent a name.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise AgentError(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    if not _NAME.fullmatch(cleaned):
        raise AgentError("The name cannot hold control characters.")
    return cleaned


def _clean_url(url: str) -> str:
    cleaned = url.strip()
    if len(cleaned) > MAX_URL_LENGTH:
        raise AgentError(f"The webhook URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(cleaned)
    except ValueError as error:
        raise AgentError("The webhook URL is not a URL.") from error
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AgentError("The webhook URL must start with https:// and name a host.")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in cleaned):
        raise AgentError("The webhook URL cannot hold spaces or control characters.")
    if parts.username or parts.password:
        raise AgentError("The webhook URL cannot hold a user name or password.")
    return cleaned


def _clean_secret(value: str, what: str) -> str:
    cleaned = value.strip()
    if len(cleaned) < MIN_SIGNING_KEY_LENGTH:
        raise AgentError(f"The {what} must be at least {MIN_SIGNING_KEY_LENGTH} characters.")
    if len(cleaned) > MAX_SIGNING_KEY_LENGTH:
        raise AgentError(f"The {what} is longer than {MAX_SIGNING_KEY_LENGTH} characters.")
    if not cleaned.isprintable() or any(ch.isspace() for ch in cleaned):
        raise AgentError(f"The {what} cannot hold spaces or control characters.")
    return cleaned
