"""The home page's figures as rules: the quarter-hour buckets they are kept in, what each
capture, refund and payment attempt adds to them, and the spans people read them over
(today, 7 days, 30 days in their own time zone).

Buckets are a quarter of an hour (UTC), not a day: every time zone's midnight falls on a
quarter hour (India's +05:30, Nepal's +05:45 too), so any zone's days are whole buckets and
one table serves every viewer exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

BUCKET = timedelta(minutes=15)
# The figures one bucket keeps per currency. The first four and the counts are in the
# currency of the order; `fee` and `net` in the settlement currency of Stripe's balance
# transaction (the row's currency is then that one): never summed across currencies.
FIGURES = (
    "captured",
    "captures",
    "refunded",
    "refunds",
    "fee",
    "net",
    "fees_unreported",
    "attempts",
    "authorized",
)
Figures = dict[str, dict[str, int]]  # currency -> figure -> amount or count
# Stripe's words for an attempt that did not take: the decline code, else the failure code.
UNKNOWN_REASON = "unknown"


def bucket_start(moment: datetime) -> datetime:
    """The start of the quarter hour `moment` falls in, in UTC."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def movement_figures(
    kind: str,
    status: str,
    amount: int,
    currency: str,
    balance: Mapping[str, Any] | None,
    refund_counts: bool,
) -> Figures:
    """What one ledger row adds: a capture its amount, a refund its amount while it counts
    (pending or succeeded), and either its balance transaction's fee and net."""
    figures: Figures = defaultdict(dict)
    code = currency.upper()
    if kind == "capture":
        figures[code] |= {"captured": amount, "captures": 1}
    elif kind == "refund" and refund_counts:
        figures[code] |= {"refunded": amount, "refunds": 1}
    else:
        return {}
    settled = settled_in(balance, currency)
    if balance is not None and settled is not None:
        net = int(balance.get("net") or 0)
        fee = balance.get("fee")
        row = figures[settled]
        row["net"] = row.get("net", 0) + net
        if fee is None:
            row["fees_unreported"] = row.get("fees_unreported", 0) + 1
        else:
            row["fee"] = row.get("fee", 0) + int(fee)
    return dict(figures)


def settled_in(balance: Mapping[str, Any] | None, currency: str | None) -> str | None:
    """The currency a ledger row's fee and net are counted in (upper case): its balance
    transaction's, else the row's own; None while Stripe has not reported the balance."""
    if balance is None:
        return None
    code = balance.get("currency") or currency
    return str(code).upper() if code else None


DECIDED = ("succeeded", "failed")


def attempt_figures(status: str, currency: str) -> Figures:
    """What one payment attempt adds once it is decided: an attempt, and an authorization
    when it succeeded (a pending one adds nothing yet)."""
    if status == "succeeded":
        return {currency.upper(): {"attempts": 1, "authorized": 1}}
    if status == "failed":
        return {currency.upper(): {"attempts": 1}}
    return {}


def own_currency(details: Mapping[str, Any]) -> str | None:
    """The currency an attempt names itself (upper case), or None: it is then counted in
    its order's currency."""
    code = details.get("currency")
    return code.upper() if isinstance(code, str) and len(code) == 3 else None


def decline_reason(details: Mapping[str, Any]) -> str:
    """The reason a failed attempt is counted under."""
    return str(details.get("decline_code") or details.get("failure_code") or UNKNOWN_REASON)


def difference(new: Figures, old: Figures) -> Figures:
    """`new` less `old`, leaving out what did not change."""
    out: Figures = {}
    for currency in new.keys() | old.keys():
        after, before = new.get(currency, {}), old.get(currency, {})
        changed = {
            name: after.get(name, 0) - before.get(name, 0)
            for name in after.keys() | before.keys()
            if after.get(name, 0) != before.get(name, 0)
        }
        if changed:
            out[currency] = changed
    return out


@dataclass(frozen=True)
class Span:
    """A stretch of whole days in the viewer's zone, up to now: `start` is its first day's
    midnight (UTC), `end` the next midnight after today."""

    key: str
    label: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime


SPAN_DAYS = (("today", "Today", 1), ("7d", "7 days", 7), ("30d", "30 days", 30))


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def spans(now: datetime, zone: tzinfo) -> list[Span]:
    """Today, the last 7 days and the last 30 days (today included) in `zone`."""
    today = now.astimezone(zone).date()
    end = local_midnight(today + timedelta(days=1), zone)
    return [
        Span(
            key=key,
            label=label,
            first_day=today - timedelta(days=days - 1),
            last_day=today,
            start=local_midnight(today - timedelta(days=days - 1), zone),
            end=end,
        )
        for key, label, days in SPAN_DAYS
    ]


def sum_by_day(
    rows: Iterable[tuple[datetime, str, Mapping[str, int]]], zone: tzinfo
) -> dict[str, dict[date, dict[str, int]]]:
    """Buckets (start, currency, figures) added up per currency per day of `zone`."""
    days: dict[str, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for start, currency, figures in rows:
        day = days[currency][start.astimezone(zone).date()]
        for name, value in figures.items():
            day[name] = day.get(name, 0) + value
    return days


def total(days: Mapping[date, Mapping[str, int]], span: Span) -> dict[str, int]:
    """A currency's figures over the days of `span`."""
    out: dict[str, int] = {name: 0 for name in FIGURES}
    for day, figures in days.items():
        if span.first_day <= day <= span.last_day:
            for name, value in figures.items():
                out[name] = out.get(name, 0) + value
    return out


def rate(part: int, whole: int) -> float | None:
    """A share in percent, None when there is nothing to divide."""
    return None if whole == 0 else 100.0 * part / whole


def percentile(sorted_values: list[float], share: float) -> float | None:
    """The nearest-rank percentile of values sorted ascending (None for none)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * share // 1))
    return sorted_values[int(rank) - 1]
