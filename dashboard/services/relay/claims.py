"""Which relay works on which outbox rows, and what became of each attempt.

A relay claims a few due rows in a short transaction of its own: it writes its name and a
lease (`claimed_until`) on them and counts the attempt, then commits before it talks to any
server, so no database lock or transaction is held while SMTP or the broker think. On
PostgreSQL the rows are picked with FOR UPDATE SKIP LOCKED: relays running at once take
different rows without waiting for each other. On SQLite the UPDATE that claims re-checks
that each row is still unclaimed under the database's one write lock, so two relays never
both get a row. A relay that dies holding rows loses nothing: once the lease has passed,
another claims them again (an attempt that was counted, so a row that kills every relay
still reaches its last attempt).

The outcome is written in a transaction of its own per row, with a delivery record: a row
that was delivered is never claimed again, whichever relay holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from dashboard.domain.backoff import retry_delay
from dashboard.extensions import db
from dashboard.models import (
    DeliveryOutcome,
    OutboxDelivery,
    OutboxEvent,
    OutboxMessage,
    utcnow,
)
from dashboard.models.agent_webhooks import AgentWebhook
from dashboard.transactions import unit_of_work

Row = type[OutboxMessage] | type[OutboxEvent] | type[AgentWebhook]
MAX_ERROR = 500


@dataclass(frozen=True)
class Policy:
    """How a relay claims and retries (OUTBOX_* settings)."""

    relay_id: str
    lease: timedelta
    max_attempts: int
    retry_base: float
    retry_max: float

    @classmethod
    def from_config(cls, config: Any, relay_id: str) -> Policy:
        return cls(
            relay_id=relay_id,
            lease=timedelta(seconds=int(config["OUTBOX_LEASE"])),
            max_attempts=int(config["OUTBOX_MAX_ATTEMPTS"]),
            retry_base=float(config["OUTBOX_RETRY_BASE"]),
            retry_max=float(config["OUTBOX_RETRY_MAX"]),
        )


def _waiting(model: Any) -> Any:
    if model is OutboxMessage:
        return and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
    if model is OutboxEvent:
        return OutboxEvent.published_at.is_(None)
    return and_(model.delivered_at.is_(None), model.stopped_at.is_(None))


def _claimable(model: Row, due_by: datetime, now: datetime) -> Any:
    claimable = and_(
        _waiting(model),
        or_(model.next_attempt_at.is_(None), model.next_attempt_at <= due_by),
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )
    if model is AgentWebhook:
        # An agent hears an order's events in order: none while an earlier one waits.
        earlier = aliased(AgentWebhook)
        claimable = and_(
            claimable,
            ~exists().where(
                earlier.order_id == AgentWebhook.order_id,
                earlier.id < AgentWebhook.id,
                _waiting(earlier),
            ),
        )
    return claimable


def claim(model: Row, policy: Policy, *, due_by: datetime, limit: int) -> list[int]:
    """Claim up to `limit` rows due by `due_by`, oldest first, and commit; their ids."""
    with unit_of_work():
        now = utcnow()
        due = select(model.id).where(_claimable(model, due_by, now)).order_by(model.id).limit(limit)
        if db.session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(db.session.scalars(due))
        if not ids:
            return []
        claimed = db.session.scalars(
            update(model)
            .where(model.id.in_(ids), _claimable(model, due_by, now))
            .values(
                claimed_by=policy.relay_id,
                claimed_until=now + policy.lease,
                attempts=model.attempts + 1,
            )
            .returning(model.id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(claimed)


@dataclass(frozen=True)
class Attempt:
    """What one try at one row came to."""

    row_id: int
    started_at: datetime
    outcome: str  # DeliveryOutcome.DELIVERED, or a failure: RETRY (may become FAILED)
    error: str | None = None
    permanent: bool = False  # refused for good: no retry


def _get(model: Row, row_id: int) -> OutboxMessage | OutboxEvent | None:
    if model is OutboxMessage:
        return db.session.get(OutboxMessage, row_id)
    return db.session.get(OutboxEvent, row_id)


def record(model: Row, attempt: Attempt, policy: Policy, channel: str) -> str:
    """Write the attempt's outcome on the row and in the deliveries, and commit. A failure
    is retried after a backoff, unless it was permanent or the row's last attempt (emails
    only: a domain event waits for its broker however long it takes). Returns the outcome
    recorded."""
    with unit_of_work():
        row = _get(model, attempt.row_id)
        if row is None:  # its order was deleted meanwhile
            return attempt.outcome
        now = utcnow()
        outcome = attempt.outcome
        error = attempt.error[:MAX_ERROR] if attempt.error else None
        if outcome == DeliveryOutcome.DELIVERED:
            if isinstance(row, OutboxMessage):
                row.sent_at = row.sent_at or now
            else:
                row.published_at = row.published_at or now
            row.last_error = None
        else:
            gives_up = isinstance(row, OutboxMessage) and (
                attempt.permanent or row.attempts >= policy.max_attempts
            )
            if gives_up and isinstance(row, OutboxMessage):
                outcome = DeliveryOutcome.FAILED
                row.failed_at = now
            else:
                outcome = DeliveryOutcome.RETRY
                delay = retry_delay(row.attempts, base=policy.retry_base, cap=policy.retry_max)
                row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = error
        if row.claimed_by == policy.relay_id:
            row.claimed_by = None
            row.claimed_until = None
        db.session.add(
            OutboxDelivery(
                message_id=attempt.row_id if model is OutboxMessage else None,
                event_id=attempt.row_id if model is OutboxEvent else None,
                channel=channel,
                relay=policy.relay_id,
                started_at=attempt.started_at,
                finished_at=now,
                outcome=outcome,
                error=error,
            )
        )
    return outcome


def deliveries_of(
    *, message_id: int | None = None, event_id: int | None = None
) -> list[OutboxDelivery]:
    """Every attempt at one email or event, oldest first."""
    query = select(OutboxDelivery).order_by(OutboxDelivery.id)
    if message_id is not None:
        query = query.where(OutboxDelivery.message_id == message_id)
    if event_id is not None:
        query = query.where(OutboxDelivery.event_id == event_id)
    return list(db.session.scalars(query))
