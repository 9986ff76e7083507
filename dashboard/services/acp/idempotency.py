"""Idempotency-Keys as the protocol's RFC §6 has them: scoped to the agent and the
endpoint's path, the same body (semantically) replays the first answer with its status and
`Idempotent-Replayed: true`, another body is refused (422 idempotency_conflict), and a key
whose first request is still being answered is refused with 409 and Retry-After.

The key's row is the lock: inserted before the work, under a unique constraint, so
requests arriving together with one key find each other, in any worker. A payment's row is
made durable before Stripe is called (the request ledger's commit), so a second request
sees it in flight; the session operations commit theirs with the work, so a second request
waits for the first to end and replays its answer. An answer in the 5xx range is not kept
(RFC §6.5): the key can be sent again, and the work resumes where it stopped. Keys are kept
24 hours (§6.6); after that a key is new again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from dashboard.extensions import db, upsert_insert
from dashboard.models import Agent, AgentIdempotencyKey, KeyStatus, utcnow
from dashboard.services.acp.answers import AcpRefusal, Answer

RETENTION = timedelta(hours=24)
# A key still "in flight" after this long lost its request (a worker died mid-payment):
# the next request with it resumes the work, with the same Stripe idempotency key.
STALE_AFTER = timedelta(minutes=2)
# Seconds an agent is asked to wait before sending a key in flight again.
RETRY_AFTER = 2
REPLAYED = {"Idempotent-Replayed": "true"}


def _find(agent: Agent, endpoint: str, key: str) -> AgentIdempotencyKey | None:
    return db.session.scalar(
        select(AgentIdempotencyKey)
        .where(
            AgentIdempotencyKey.agent_id == agent.id,
            AgentIdempotencyKey.endpoint == endpoint,
            AgentIdempotencyKey.idempotency_key == key,
        )
        .execution_options(populate_existing=True)
    )


def in_flight() -> AcpRefusal:
    return AcpRefusal(
        409,
        "idempotency_in_flight",
        "A request with this Idempotency-Key is currently being processed",
        headers={"Retry-After": str(RETRY_AFTER)},
    )


def claim(agent: Agent, endpoint: str, key: str, fingerprint: str) -> AgentIdempotencyKey | Answer:
    """The key's new row (the work is ours to do), or the first answer to replay; refusals
    for a key in flight or sent with another body."""
    found = _find(agent, endpoint, key)
    if found is not None and found.created_at < utcnow() - RETENTION:
        db.session.execute(delete(AgentIdempotencyKey).where(AgentIdempotencyKey.id == found.id))
        found = None
    if found is None:
        # ON CONFLICT DO NOTHING: a request with the key still open elsewhere makes this wait
        # for its end (PostgreSQL), then find its row; no savepoint is needed (SQLite's
        # outermost savepoint would commit on release).
        made = db.session.execute(
            upsert_insert()(AgentIdempotencyKey)
            .values(
                agent_id=agent.id,
                endpoint=endpoint,
                idempotency_key=key,
                fingerprint=fingerprint,
                status=KeyStatus.IN_FLIGHT.value,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["agent_id", "endpoint", "idempotency_key"])
            .returning(AgentIdempotencyKey.id)
        ).first()
        if made is not None:
            record = db.session.get(AgentIdempotencyKey, made.id)
            assert record is not None
            return record
        found = _find(agent, endpoint, key)
        if found is None:
            raise in_flight()
    if found.fingerprint != fingerprint:
        raise AcpRefusal(
            422,
            "idempotency_conflict",
            "Idempotency-Key has already been used with a different request body",
        )
    if found.status == KeyStatus.ANSWERED.value and found.response_status is not None:
        return Answer(found.response_status, dict(found.response_body or {}), dict(REPLAYED))
    now = utcnow()
    if found.status == KeyStatus.RETRY.value or found.created_at < now - STALE_AFTER:
        # Resumed by one request only: the update is conditional on what was read.
        resumed = db.session.execute(
            update(AgentIdempotencyKey)
            .where(
                AgentIdempotencyKey.id == found.id,
                AgentIdempotencyKey.status == found.status,
                AgentIdempotencyKey.created_at == found.created_at,
            )
            .values(status=KeyStatus.IN_FLIGHT.value, created_at=now)
            .execution_options(synchronize_session=False)
        )
        if resumed.rowcount == 1:  # type: ignore[attr-defined]
            db.session.refresh(found)
            return found
    raise in_flight()


def answered(record: AgentIdempotencyKey, answer: Answer) -> Answer:
    """Keep the answer for the key (a 5xx is not kept: the key may be sent again)."""
    if answer.status >= 500:
        record.status = KeyStatus.RETRY.value
    else:
        record.status = KeyStatus.ANSWERED.value
        record.response_status = answer.status
        record.response_body = answer.body
        record.answered_at = utcnow()
    db.session.flush()
    return answer
