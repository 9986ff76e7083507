"""The list behind the home page's captured and refunded figures: the very ledger rows the
rollups counted (one kind, one currency, a span of time), newest first, with their count
and sum, so the list and the figure can be compared at a glance.

Served by the (kind, currency, occurred_at, id) index: a page costs what its rows cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select, tuple_

from dashboard.domain.stripe_mapping import REFUND_STATUS_COUNTS
from dashboard.extensions import db
from dashboard.models import MoneyMovement, MovementKind

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
    query = select(MoneyMovement).where(condition)
    if older_than is not None:
        after = db.session.get(MoneyMovement, older_than)
        if after is not None:
            query = query.where(
                tuple_(MoneyMovement.occurred_at, MoneyMovement.id)
                < tuple_(after.occurred_at, after.id)
            )
    rows = list(
        db.session.scalars(
            query.order_by(MoneyMovement.occurred_at.desc(), MoneyMovement.id.desc()).limit(
                per_page + 1
            )
        )
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    return MovementPage(
        rows=rows,
        count=int(count),
        total=int(total),
        older_than=rows[-1].id if more and rows else None,
    )
