"""The home page's rollups kept up to date in the transaction that changes what they count.

Every capture, refund and payment attempt is a row of `money_movements` or
`payment_attempts`, written by services/payments/records.py and nothing else. Rather than
each of its writes remembering to add to a rollup, the session tells us what it flushed:
after each flush the change in each row's contribution (its old values from the attribute
history, its new ones) is noted, and just before the transaction commits the notes are added
to `overview_buckets` and `overview_declines` in one upsert per row touched, in a fixed
order. Taking those row locks last, and in order, means two transactions never wait on each
other in a circle (an order's lock is always taken before them). What a savepoint rolled
back is dropped with it; a rolled-back transaction adds nothing.

`rebuild` recomputes both tables from the source rows (`flask overview rebuild`): for data
written before the rollups existed, or bulk-loaded around the ORM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from dashboard.domain import overview as rules
from dashboard.domain.stripe_mapping import refund_counts
from dashboard.extensions import db
from dashboard.models import (
    DeclineBucket,
    MoneyMovement,
    Order,
    OverviewBucket,
    PaymentAttempt,
    utcnow,
)
from dashboard.transactions import enclosing

_NOTES = "overview_rollup_notes"
BucketKey = tuple[datetime, str]
DeclineKey = tuple[datetime, str, str]


class Notes:
    """What one transaction (or savepoint) changed: figure deltas per bucket and currency,
    decline deltas per bucket, currency and reason."""

    def __init__(self) -> None:
        self.figures: dict[BucketKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.declines: dict[DeclineKey, int] = defaultdict(int)

    def add(self, start: datetime, figures: rules.Figures, sign: int) -> None:
        for currency, values in figures.items():
            row = self.figures[(rules.bucket_start(start), currency)]
            for name, value in values.items():
                row[name] += sign * value

    def decline(self, start: datetime, currency: str, reason: str, sign: int) -> None:
        self.declines[(rules.bucket_start(start), currency.upper(), reason[:64])] += sign


def init_app() -> None:
    """Listen to every session (once per process)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


def _after_flush(session: Session, _context: Any) -> None:
    rows = [
        row
        for row in (*session.new, *session.dirty)
        if isinstance(row, MoneyMovement | PaymentAttempt)
    ]
    if not rows:
        return
    notes = Notes()
    for row in rows:
        if isinstance(row, MoneyMovement):
            _note_movement(notes, row)
        else:
            _note_attempt(session, notes, row)
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_NOTES, []).append((transaction, notes))


def _before_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: its notes wait for the transaction's commit
    session.flush()
    kept = session.info.pop(_NOTES, [])
    if kept:
        apply(session.connection(), [notes for _, notes in kept])


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    kept = session.info.get(_NOTES)
    if kept:
        session.info[_NOTES] = [
            (txn, notes) for txn, notes in kept if previous not in enclosing(txn)
        ]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without its commit (closed, say) leaves no notes behind
    for the session's next one."""
    if transaction.parent is None:
        session.info.pop(_NOTES, None)


def _before(row: Any, name: str) -> Any:
    history = inspect(row).attrs[name].history
    return history.deleted[0] if history.deleted else getattr(row, name)


_MOVEMENT = ("occurred_at", "kind", "status", "amount", "currency", "balance")
_ATTEMPT = ("first_seen_at", "order_id", "status", "details")


def _note_movement(notes: Notes, row: MoneyMovement) -> None:
    if not inspect(row).pending:
        movement_values(notes, -1, *(_before(row, name) for name in _MOVEMENT))
    movement_values(notes, +1, *(getattr(row, name) for name in _MOVEMENT))


def movement_values(
    notes: Notes,
    sign: int,
    at: datetime | None,
    kind: str,
    status: str,
    amount: int,
    currency: str,
    balance: dict[str, Any] | None,
) -> None:
    figures = rules.movement_figures(kind, status, amount, currency, balance, refund_counts(status))
    notes.add(at or utcnow(), figures, sign)


def _note_attempt(session: Session, notes: Notes, row: PaymentAttempt) -> None:
    if not inspect(row).pending:
        attempt_values(session, notes, -1, *(_before(row, name) for name in _ATTEMPT))
    attempt_values(session, notes, +1, *(getattr(row, name) for name in _ATTEMPT))


def attempt_values(
    session: Session,
    notes: Notes,
    sign: int,
    at: datetime | None,
    order_id: int,
    status: str,
    details: dict[str, Any] | None,
) -> None:
    details = details or {}
    if status not in rules.DECIDED:
        return  # a pending attempt counts once it is decided
    code = rules.own_currency(details)
    if code is None:
        found = session.connection().scalar(select(Order.currency).where(Order.id == order_id))
        code = str(found or "XXX")
    at = at or utcnow()
    notes.add(at, rules.attempt_figures(status, code), sign)
    if status == "failed":
        notes.decline(at, code, rules.decline_reason(details), sign)


def apply(connection: Connection, all_notes: list[Notes]) -> None:
    """Add the notes to the rollup tables: one upsert per row, in key order."""
    figures: dict[BucketKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    declines: dict[DeclineKey, int] = defaultdict(int)
    for notes in all_notes:
        for key, values in notes.figures.items():
            for name, value in values.items():
                figures[key][name] += value
        for dkey, count in notes.declines.items():
            declines[dkey] += count
    upsert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    buckets = cast(Table, OverviewBucket.__table__)
    for (start, currency), values in sorted(figures.items()):
        changed = {name: value for name, value in values.items() if value}
        if not changed:
            continue
        stmt = upsert(buckets).values(bucket_start=start, currency=currency, **changed)
        connection.execute(
            stmt.on_conflict_do_update(
                index_elements=["bucket_start", "currency"],
                set_={name: buckets.c[name] + stmt.excluded[name] for name in changed},
            )
        )
    table = cast(Table, DeclineBucket.__table__)
    for (start, currency, reason), count in sorted(declines.items()):
        if not count:
            continue
        dstmt = upsert(table).values(
            bucket_start=start, currency=currency, reason=reason, count=count
        )
        connection.execute(
            dstmt.on_conflict_do_update(
                index_elements=["bucket_start", "currency", "reason"],
                set_={"count": table.c.count + dstmt.excluded.count},
            )
        )


def rebuild(batch: int = 20_000) -> int:
    """Recompute both rollup tables from every movement and attempt; how many source rows
    were read. Run it with the writers stopped, or run it again after they have."""
    session: Session = db.session()
    session.execute(delete(OverviewBucket))
    session.execute(delete(DeclineBucket))
    notes = Notes()
    read = 0
    for values in _rows(session, MoneyMovement, _MOVEMENT, batch):
        movement_values(notes, +1, *values)
        read += 1
    for values in _rows(session, PaymentAttempt, _ATTEMPT, batch):
        attempt_values(session, notes, +1, *values)
        read += 1
    apply(session.connection(), [notes])
    return read


def _rows(
    session: Session,
    model: type[MoneyMovement] | type[PaymentAttempt],
    names: tuple[str, ...],
    batch: int,
) -> Iterator[tuple[Any, ...]]:
    """Every row's `names`, read a page at a time in id order."""
    columns = [getattr(model, name) for name in names]
    last = 0
    while True:
        rows = session.execute(
            select(model.id, *columns).where(model.id > last).order_by(model.id).limit(batch)
        ).all()
        for row in rows:
            yield tuple(row)[1:]
        if len(rows) < batch:
            return
        last = rows[-1][0]
