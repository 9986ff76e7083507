"""The admin's page of order events to agents: each event, newest first, with what became
of it (status, attempts, next try, the agent's last answer), keyset-paginated."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dashboard.extensions import db
from dashboard.models import AgentWebhook, AgentWebhookAttempt
from dashboard.services.pagination import Page, newest_first

PER_PAGE = 50


def deliveries(
    *, older_than: int | None, newer_than: int | None, per_page: int = PER_PAGE
) -> Page[AgentWebhook]:
    query = select(AgentWebhook).options(
        joinedload(AgentWebhook.agent), joinedload(AgentWebhook.order)
    )
    return newest_first(
        query,
        AgentWebhook.id,
        older_than=older_than,
        newer_than=newer_than,
        per_page=per_page,
    )


def attempts_of(webhook_id: int) -> list[AgentWebhookAttempt]:
    """Every attempt at one event, oldest first."""
    return list(
        db.session.scalars(
            select(AgentWebhookAttempt)
            .where(AgentWebhookAttempt.webhook_id == webhook_id)
            .order_by(AgentWebhookAttempt.id)
        )
    )
