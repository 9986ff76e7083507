"""The home page's figures for one viewer: per currency, never summed across currencies,
for today, 7 days and 30 days in the viewer's time zone, with open holds, disputes and
webhook health.

Each read is bounded by what it shows, never by the number of orders: the rollups of the
last 30 days (at most 2,880 quarter hours per currency), the orders still held (an index
range of the held states), the open disputes (an index range of the open statuses), and a
day of Stripe events (a range of the `created` index).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import case, func, select

from dashboard.domain import overview as rules
from dashboard.domain.stripe_mapping import OPEN_DISPUTES
from dashboard.extensions import db
from dashboard.models import DeclineBucket, Dispute, Order, OverviewBucket, utcnow
from dashboard.services.inbox import health
from dashboard.services.overview.movements import HELD

TOP_DECLINES = 3


@dataclass(frozen=True)
class Holds:
    currency: str
    count: int
    amount: int  # still capturable
    expiring: int  # deadline within the alert window (or already past)


@dataclass(frozen=True)
class OpenDisputes:
    currency: str
    count: int
    amount: int
    nearest_due: datetime | None  # the nearest evidence deadline


@dataclass(frozen=True)
class Day:
    day: date
    captured: int
    refunded: int
    attempts: int
    authorized: int

    @property
    def rate(self) -> float | None:
        return rules.rate(self.authorized, self.attempts)


@dataclass
class CurrencyFigures:
    """One currency: its figures per span (settlement figures included when Stripe settled
    in this currency), its top decline reasons per span, and its 30 days day by day."""

    currency: str
    spans: dict[str, dict[str, int]]
    declines: dict[str, list[tuple[str, int]]]
    days: list[Day]

    def rate(self, span: str) -> float | None:
        figures = self.spans[span]
        return rules.rate(figures["authorized"], figures["attempts"])


@dataclass(frozen=True)
class HomeFigures:
    now: datetime
    spans: list[rules.Span]
    currencies: list[CurrencyFigures]
    holds: list[Holds]
    disputes: list[OpenDisputes]
    webhooks: health.WebhookSummary
    alert_window: timedelta


def home_figures(zone: tzinfo, alert_window: timedelta, now: datetime | None = None) -> HomeFigures:
    now = now or utcnow()
    spans = rules.spans(now, zone)
    longest = spans[-1]
    columns = [getattr(OverviewBucket, name) for name in rules.FIGURES]
    buckets = db.session.execute(
        select(OverviewBucket.bucket_start, OverviewBucket.currency, *columns).where(
            OverviewBucket.bucket_start >= longest.start,
            OverviewBucket.bucket_start < longest.end,
        )
    )
    by_day = rules.sum_by_day(
        ((row[0], row[1], dict(zip(rules.FIGURES, row[2:], strict=True))) for row in buckets),
        zone,
    )
    declines = _declines(spans, zone)
    currencies = []
    for currency in sorted(by_day):
        days = by_day[currency]
        figures = {span.key: rules.total(days, span) for span in spans}
        if not any(figures[longest.key].values()):
            continue  # buckets whose rows all moved elsewhere: nothing to show
        currencies.append(
            CurrencyFigures(
                currency=currency,
                spans=figures,
                declines={span.key: declines[currency][span.key] for span in spans},
                days=[_day(days, longest.first_day + timedelta(days=n)) for n in range(30)],
            )
        )
    return HomeFigures(
        now=now,
        spans=spans,
        currencies=currencies,
        holds=_holds(now, alert_window),
        disputes=_disputes(),
        webhooks=health.summary(now),
        alert_window=alert_window,
    )


def _day(days: dict[date, dict[str, int]], day: date) -> Day:
    figures = days.get(day, {})
    return Day(
        day=day,
        captured=figures.get("captured", 0),
        refunded=figures.get("refunded", 0),
        attempts=figures.get("attempts", 0),
        authorized=figures.get("authorized", 0),
    )


def _declines(spans: list[rules.Span], zone: tzinfo) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """Each currency's most frequent decline reasons per span."""
    longest = spans[-1]
    counted: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: {span.key: defaultdict(int) for span in spans}
    )
    rows = db.session.execute(
        select(
            DeclineBucket.bucket_start,
            DeclineBucket.currency,
            DeclineBucket.reason,
            DeclineBucket.count,
        ).where(
            DeclineBucket.bucket_start >= longest.start,
            DeclineBucket.bucket_start < longest.end,
        )
    )
    for start, currency, reason, count in rows:
        day = start.astimezone(zone).date()
        for span in spans:
            if span.first_day <= day <= span.last_day and count:
                counted[currency][span.key][reason] += count
    return defaultdict(
        lambda: {span.key: [] for span in spans},
        {
            currency: {
                key: sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_DECLINES]
                for key, reasons in per_span.items()
            }
            for currency, per_span in counted.items()
        },
    )


def _holds(now: datetime, window: timedelta) -> list[Holds]:
    """Orders holding money now, per currency: a range of the (state, deadline) index."""
    soon = now + window
    expiring = func.sum(case((Order.capture_before <= soon, 1), else_=0))
    rows = db.session.execute(
        select(Order.currency, func.count(), func.sum(Order.amount_capturable), expiring)
        .where(Order.state.in_(HELD))
        .group_by(Order.currency)
        .order_by(Order.currency)
    )
    return [
        Holds(currency=currency, count=count, amount=int(amount or 0), expiring=int(soon_ or 0))
        for currency, count, amount, soon_ in rows
    ]


def _disputes() -> list[OpenDisputes]:
    """Open disputes per currency, with the nearest evidence deadline."""
    rows = db.session.execute(
        select(
            Dispute.currency,
            func.count(),
            func.sum(Dispute.amount),
            func.min(Dispute.evidence_due_by),
        )
        .where(Dispute.status.in_(OPEN_DISPUTES))
        .group_by(Dispute.currency)
        .order_by(Dispute.currency)
    )
    return [
        OpenDisputes(
            currency=currency.upper(), count=count, amount=int(amount or 0), nearest_due=due
        )
        for currency, count, amount, due in rows
    ]
