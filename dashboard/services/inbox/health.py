"""Are Stripe's webhooks arriving and being applied? The figures the event log shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import RETRYABLE, EventStatus, StripeEvent, WebhookRejection, utcnow


@dataclass(frozen=True)
class WebhookHealth:
    last_by_type: list[tuple[str, datetime]]
    rejections_24h: dict[str, int]
    failed_24h: int
    unmatched_24h: int
    oldest_unprocessed: StripeEvent | None


def health(now: datetime | None = None) -> WebhookHealth:
    now = now or utcnow()
    since = now - timedelta(hours=24)
    last_by_type = [
        (str(kind), when)
        for kind, when in db.session.execute(
            select(StripeEvent.type, func.max(StripeEvent.last_received_at))
            .group_by(StripeEvent.type)
            .order_by(StripeEvent.type)
        )
    ]
    rejections = {
        str(reason): int(count)
        for reason, count in db.session.execute(
            select(WebhookRejection.reason, func.sum(WebhookRejection.count))
            .where(WebhookRejection.minute >= since.replace(second=0, microsecond=0))
            .group_by(WebhookRejection.reason)
        )
    }

    def count(status: EventStatus) -> int:
        return int(
            db.session.scalar(
                select(func.count()).where(
                    StripeEvent.status == status.value, StripeEvent.last_received_at >= since
                )
            )
            or 0
        )

    oldest = db.session.scalar(
        select(StripeEvent)
        .where(StripeEvent.status.in_(RETRYABLE))
        .order_by(StripeEvent.id)
        .limit(1)
    )
    return WebhookHealth(
        last_by_type=last_by_type,
        rejections_24h=rejections,
        failed_24h=count(EventStatus.FAILED),
        unmatched_24h=count(EventStatus.UNMATCHED),
        oldest_unprocessed=oldest,
    )
