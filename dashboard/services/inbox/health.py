"""Are Stripe's webhooks arriving and being applied? The figures the event log shows, and the
home page's summary of them (delivery lag, failures, the oldest event still to apply)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased, defer

from dashboard.domain.overview import percentile
from dashboard.extensions import db
from dashboard.models import RETRYABLE, EventStatus, StripeEvent, WebhookRejection, utcnow


@dataclass(frozen=True)
class WebhookHealth:
    last_by_type: list[tuple[str, datetime]]
    rejections_24h: dict[str, int]
    failed_24h: int
    unmatched_24h: int
    oldest_unprocessed: StripeEvent | None


def _last_by_type() -> Select[Any]:
    """Each type's latest arrival without reading the table: the distinct types walked off
    the (type, id) index, one probe each (a recursive query: the next type after the last),
    then each type's latest `last_received_at` off (type, last_received_at). A GROUP BY
    would read every row, on every event log page."""
    after = aliased(StripeEvent)
    types = select(func.min(StripeEvent.type).label("type")).cte("types", recursive=True)
    found = types.alias("found")
    types = types.union_all(
        select(
            select(func.min(after.type)).where(after.type > found.c.type).scalar_subquery()
        ).where(found.c.type.is_not(None))
    )
    latest = (
        select(func.max(StripeEvent.last_received_at))
        .where(StripeEvent.type == types.c.type)
        .scalar_subquery()
    )
    return select(types.c.type, latest).where(types.c.type.is_not(None)).order_by(types.c.type)


def health(now: datetime | None = None) -> WebhookHealth:
    now = now or utcnow()
    since = now - timedelta(hours=24)
    last_by_type = [(str(kind), when) for kind, when in db.session.execute(_last_by_type())]
    rejections = {
        str(reason): int(count)
        for reason, count in db.session.execute(
            select(WebhookRejection.reason, func.sum(WebhookRejection.count))
            .where(WebhookRejection.minute >= since.replace(second=0, microsecond=0))
            .group_by(WebhookRejection.reason)
        )
    }

    return WebhookHealth(
        last_by_type=last_by_type,
        rejections_24h=rejections,
        failed_24h=_count(EventStatus.FAILED, since),
        unmatched_24h=_count(EventStatus.UNMATCHED, since),
        oldest_unprocessed=_oldest_unprocessed(),
    )


@dataclass(frozen=True)
class WebhookSummary:
    """The home page's webhook health over the last 24 hours."""

    deliveries: int  # events Stripe delivered (created) in the last 24 hours
    lag_p50: float | None  # seconds from Stripe's `created` to our first receipt
    lag_p99: float | None
    failed_24h: int
    oldest_unprocessed: StripeEvent | None


# The delivery lag is measured over the events Stripe created in the last day.
LAG_SPAN = timedelta(hours=24)


def summary(now: datetime | None = None) -> WebhookSummary:
    """Delivery lag, failures and the oldest event still to apply: a range of the `created`
    index (a day of events), the failed ones, and the first retryable one."""
    now = now or utcnow()
    since = now - LAG_SPAN
    lags = sorted(lag for lag, _ in _lags(since))
    return WebhookSummary(
        deliveries=len(lags),
        lag_p50=percentile(lags, 0.50),
        lag_p99=percentile(lags, 0.99),
        failed_24h=_count(EventStatus.FAILED, since),
        oldest_unprocessed=_oldest_unprocessed(),
    )


def _lags(since: datetime) -> list[tuple[float, int]]:
    """(Seconds from Stripe's `created` to our first receipt, row id) of each event
    Stripe created since then and delivered (the sync's readings are no delivery)."""
    return [
        (max((received - created).total_seconds(), 0.0), int(row_id))
        for row_id, created, received in db.session.execute(
            select(StripeEvent.id, StripeEvent.created, StripeEvent.first_received_at).where(
                StripeEvent.created >= since, StripeEvent.delivery_count > 0
            )
        )
    ]


class LostPlace(ValueError):
    """A page link of the slowest deliveries that leads nowhere now."""


@dataclass(frozen=True)
class LagPage:
    """The deliveries behind Home's lag figures, slowest first, a page of them."""

    rows: list[tuple[StripeEvent, float]]  # each event and its lag in seconds
    deliveries: int  # as Home counts them, with the same median and 99th percentile
    lag_p50: float | None
    lag_p99: float | None
    after: int | None  # the next page's cursor: the last row's id


def slowest_deliveries(
    now: datetime | None = None, *, after: int | None = None, per_page: int = 50
) -> LagPage:
    """The events Stripe created in the last day and delivered, slowest first (then
    newest first), the page after the event `after`: the figures of Home's summary and the
    rows behind them. The day's lags are read as the summary reads them (one range of the
    `created` index) and ordered here; only the page's events are then read whole."""
    since = (now or utcnow()) - LAG_SPAN
    lags = _lags(since)
    ascending = sorted(lag for lag, _ in lags)
    ordered = sorted(lags, key=lambda pair: (-pair[0], -pair[1]))
    if after is not None:
        where = next((i for i, (_, row_id) in enumerate(ordered) if row_id == after), None)
        if where is None:
            raise LostPlace(
                "This page link leads nowhere now: its event is no longer among the day's "
                "deliveries. Start again from the slowest."
            )
        ordered = ordered[where + 1 :]
    page = ordered[:per_page]
    events = {
        row.id: row
        for row in (
            db.session.scalars(
                select(StripeEvent)
                .where(StripeEvent.id.in_([row_id for _, row_id in page]))
                .options(defer(StripeEvent.payload), defer(StripeEvent.traceback))
            )
            if page
            else ()
        )
    }
    return LagPage(
        rows=[(events[row_id], lag) for lag, row_id in page if row_id in events],
        deliveries=len(lags),
        lag_p50=percentile(ascending, 0.50),
        lag_p99=percentile(ascending, 0.99),
        after=page[-1][1] if len(ordered) > per_page else None,
    )


def _count(status: EventStatus, since: datetime) -> int:
    return int(
        db.session.scalar(
            select(func.count()).where(
                StripeEvent.status == status.value, StripeEvent.last_received_at >= since
            )
        )
        or 0
    )


def _oldest_unprocessed() -> StripeEvent | None:
    """The first event of each retryable status, each off the (status, id) index, and the
    older of the two. (`status IN (…) ORDER BY id` may be planned as a walk of the whole
    primary key, filtered: the whole inbox when nothing is left to apply.)"""
    firsts = [
        select(StripeEvent.id)
        .where(StripeEvent.status == status)
        .order_by(StripeEvent.id)
        .limit(1)
        .scalar_subquery()
        for status in RETRYABLE
    ]
    return db.session.scalar(
        select(StripeEvent).where(StripeEvent.id.in_(firsts)).order_by(StripeEvent.id).limit(1)
    )
