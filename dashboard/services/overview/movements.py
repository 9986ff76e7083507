"""The lists behind the home page's figures: the very rows the rollups counted (one
currency, a span of time), newest first, with their count and sum, so the list and the
figure can be compared at a glance. Captured and refunded: the ledger's rows, served by
the (kind, currency, occurred_at, id) index. Fees and net: the captures and refunds
Stripe settled in the currency, served by the (settlement_currency, occurred_at, id)
index. The authorization rate and the declines: the
payment attempts, served by the (currency, first_seen_at, id) index. Open holds: the orders
holding money now, off the (state, capture_before) index. A page costs what its rows cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, or_, select, tuple_

from dashboard.domain.orders import OrderState
from dashboard.domain.overview import DECIDED
from dashboard.domain.stripe_mapping import REFUND_STATUS_COUNTS
from dashboard.extensions import db
from dashboard.models import MoneyMovement, MovementKind, Order, PaymentAttempt

KINDS = (MovementKind.CAPTURE.value, MovementKind.REFUND.value)
# A refund counts while it is pending or succeeded (domain/stripe_mapping.py).
NOT_COUNTED = tuple(status for status, counts in REFUND_STATUS_COUNTS.items() if not counts)


@dataclass(frozen=True)
class MovementPage:
    rows: list[MoneyMovement]
    count: int  # all the rows the filter takes, not only this page's
    total: int
    older_than: int | None  # the cursor of the next page


def _counted(kind: str, currency: str, start: datetime, end: datetime) -> ColumnElement[bool]:
    condition = and_(
        MoneyMovement.kind == kind,
        MoneyMovement.currency == currency,
        MoneyMovement.occurred_at >= start,
        MoneyMovement.occurred_at < end,
    )
    if kind == MovementKind.REFUND.value:
        condition = and_(condition, MoneyMovement.status.not_in(NOT_COUNTED))
    return condition


def list_movements(
    kind: str,
    currency: str,
    start: datetime,
    end: datetime,
    *,
    older_than: int | None = None,
    per_page: int = 50,
) -> MovementPage:
    """One page of the rows the home page counted for `kind` in `currency` from `start` to
    `end` (excluded), newest first; the next page starts below `older_than` (a row's id)."""
    condition = _counted(kind, currency, start, end)
    count, total = db.session.execute(
        select(func.count(), func.coalesce(func.sum(MoneyMovement.amount), 0)).where(condition)
    ).one()
    rows, cursor = _newest_first(
        MoneyMovement, MoneyMovement.occurred_at, condition, older_than, per_page
    )
    return MovementPage(rows=rows, count=int(count), total=int(total), older_than=cursor)


def _newest_first(
    model: Any, moment: Any, condition: ColumnElement[bool], older_than: int | None, per_page: int
) -> tuple[list[Any], int | None]:
    """A keyset page of `model`'s rows, newest `moment` first (then id), below the row
    `older_than`; and the cursor of the next page (None: this is the last)."""
    query = select(model).where(condition)
    after = db.session.get(model, older_than) if older_than is not None else None
    if after is not None:
        query = query.where(tuple_(moment, model.id) < tuple_(getattr(after, moment.key), after.id))
    rows = list(
        db.session.scalars(query.order_by(moment.desc(), model.id.desc()).limit(per_page + 1))
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, rows[-1].id if more and rows else None


@dataclass(frozen=True)
class SettledPage:
    rows: list[MoneyMovement]
    count: int  # the captures and refunds settled in the currency in the span
    fee: int  # their fees, as Home's "Fees settled" figure
    net: int  # their net, as Home's "Net settled" figure
    fees_unreported: int  # of them, those whose fee Stripe did not report
    older_than: int | None


def _settled(currency: str, start: datetime, end: datetime) -> ColumnElement[bool]:
    """The rows whose fee and net Home counts in `currency`: captures, and refunds while
    they count, that Stripe settled in it (domain/overview.py movement_figures)."""
    return and_(
        MoneyMovement.settlement_currency == currency,
        MoneyMovement.occurred_at >= start,
        MoneyMovement.occurred_at < end,
        or_(
            MoneyMovement.kind == MovementKind.CAPTURE.value,
            and_(
                MoneyMovement.kind == MovementKind.REFUND.value,
                MoneyMovement.status.not_in(NOT_COUNTED),
            ),
        ),
    )


def list_settled(
    currency: str,
    start: datetime,
    end: datetime,
    *,
    older_than: int | None = None,
    per_page: int = 50,
) -> SettledPage:
    """One page of the captures and refunds whose fees and net Home counted as settled in
    `currency` from `start` to `end` (excluded), newest first, with the sums of both. A
    range of the (settlement_currency, occurred_at, id) index."""
    condition = _settled(currency, start, end)
    fee = cast(MoneyMovement.balance["fee"].as_string(), BigInteger)
    net = cast(MoneyMovement.balance["net"].as_string(), BigInteger)
    unreported = case((fee.is_(None), 1), else_=0)
    count, fees, nets, missing = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(fee), 0),
            func.coalesce(func.sum(net), 0),
            func.coalesce(func.sum(unreported), 0),
        ).where(condition)
    ).one()
    rows, cursor = _newest_first(
        MoneyMovement, MoneyMovement.occurred_at, condition, older_than, per_page
    )
    return SettledPage(
        rows=rows,
        count=int(count),
        fee=int(fees),
        net=int(nets),
        fees_unreported=int(missing),
        older_than=cursor,
    )


# What Home counts as a hold: an order still holding money (services/overview/home.py).
HELD = (OrderState.AUTHORIZED.value, OrderState.PARTLY_CAPTURED.value)

# The list behind the fees and net settled in a currency.
SETTLED = "settled"

# The list behind the authorization rate (every decided attempt) and the declines.
ATTEMPT_KINDS = ("attempt", "decline")


@dataclass(frozen=True)
class AttemptPage:
    rows: list[PaymentAttempt]
    count: int  # attempts the filter takes (the rate's denominator, or the declines)
    authorized: int  # of them, those that succeeded (the rate's numerator)
    older_than: int | None


def list_attempts(
    currency: str,
    start: datetime,
    end: datetime,
    *,
    reason: str | None = None,
    declined_only: bool = False,
    older_than: int | None = None,
    per_page: int = 50,
) -> AttemptPage:
    """One page of the decided payment attempts Home counted in `currency` from `start` to
    `end` (excluded), newest first: all of them (the authorization rate), or the declined
    ones, of one reason if given. A range of the (currency, first_seen_at, id) index."""
    condition = and_(
        PaymentAttempt.currency == currency,
        PaymentAttempt.first_seen_at >= start,
        PaymentAttempt.first_seen_at < end,
        PaymentAttempt.status.in_(DECIDED),
    )
    if declined_only or reason is not None:
        condition = and_(condition, PaymentAttempt.status == "failed")
    if reason is not None:
        condition = and_(condition, PaymentAttempt.decline_reason == reason)
    succeeded = case((PaymentAttempt.status == "succeeded", 1), else_=0)
    count, authorized = db.session.execute(
        select(func.count(), func.coalesce(func.sum(succeeded), 0)).where(condition)
    ).one()
    rows, cursor = _newest_first(
        PaymentAttempt, PaymentAttempt.first_seen_at, condition, older_than, per_page
    )
    return AttemptPage(rows=rows, count=int(count), authorized=int(authorized), older_than=cursor)


@dataclass(frozen=True)
class HoldPage:
    rows: list[Order]
    count: int  # orders holding money in the currency (Home's figure)
    total: int  # what they hold
    expiring: int  # of them, those whose deadline is within the window (or past)
    after: int | None  # the cursor of the next page (an order id)


def list_holds(
    currency: str,
    now: datetime,
    window: timedelta,
    *,
    expiring_only: bool = False,
    after: int | None = None,
    per_page: int = 50,
) -> HoldPage:
    """The orders holding money in `currency` that Home counts, the soonest deadline first
    (those without one last): all, or those running out within `window`. A range of the
    (state, capture_before) index; the holds are the orders awaiting capture, not the
    history."""
    soon = now + window
    condition = and_(Order.state.in_(HELD), Order.currency == currency)
    if expiring_only:
        condition = and_(condition, Order.capture_before <= soon)
    expiring = func.coalesce(func.sum(case((Order.capture_before <= soon, 1), else_=0)), 0)
    count, total, expiring_count = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Order.amount_capturable), 0), expiring).where(
            condition
        )
    ).one()
    query = select(Order).where(condition)
    last = db.session.get(Order, after) if after is not None else None
    if last is not None and last.capture_before is not None:
        query = query.where(
            or_(
                Order.capture_before > last.capture_before,
                and_(Order.capture_before == last.capture_before, Order.id > last.id),
                Order.capture_before.is_(None),
            )
        )
    elif last is not None:
        query = query.where(Order.capture_before.is_(None), Order.id > last.id)
    rows = list(
        db.session.scalars(
            query.order_by(Order.capture_before.asc().nulls_last(), Order.id).limit(per_page + 1)
        )
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    return HoldPage(
        rows=rows,
        count=int(count),
        total=int(total),
        expiring=int(expiring_count),
        after=rows[-1].id if more and rows else None,
    )
