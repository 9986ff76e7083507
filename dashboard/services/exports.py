"""CSV exports for a span of time: orders (by when they were created), payments (each
capture and refund, by when it happened, with fee, net and settlement currency) and
disputes (by when they were opened).

Streamed: rows are read through a server-side cursor (`yield_per`) and written out a chunk
at a time, so a million rows take the memory a few thousand do. Text that a spreadsheet
would run as a formula is neutralised (domain/csv_cells.py); numbers we write are plain.
Each export is written to the `dashboard.audit` log, with who asked and for which span.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from dashboard.domain.csv_cells import FORMULA_STARTS, neutralise
from dashboard.domain.days import Instants
from dashboard.domain.money import exponent
from dashboard.extensions import db
from dashboard.models import Dispute, MoneyMovement, Order
from dashboard.models.payments import MovementKind
from dashboard.services import export_copy

audit = logging.getLogger("dashboard.audit")

# Rows read from the database at a time, and written out at a time.
READ_BATCH = 5000
WRITE_BATCH = 1000
# What spreadsheets (Excel above all) need to read a CSV as UTF-8.
BOM = "\ufeff"


class ExportKind(StrEnum):
    ORDERS = "orders"
    PAYMENTS = "payments"
    DISPUTES = "disputes"


@dataclass(frozen=True)
class Export:
    kind: ExportKind
    span: Instants

    def filename(self, first: str, last: str) -> str:
        return f"{self.kind.value}-{first or 'start'}-to-{last or 'now'}.csv"


def _moment(value: datetime | None) -> str:
    if value is None:
        return ""
    # Read as UTC already (models/base.py:UTCDateTime); a bound written here is converted.
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="seconds")[:19] + "Z"


_PLACES: dict[str, int] = {}


def _amount(minor: int, currency: str) -> str:
    """format_plain, its currency's exponent looked up once per export (a million rows)."""
    places = _PLACES.get(currency)
    if places is None:
        places = _PLACES[currency] = exponent(currency)
    if places == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def _text(value: str | None) -> str:
    if not value:
        return ""
    return neutralise(value) if value[0] in FORMULA_STARTS else value


def _within(column: Any, span: Instants) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if span.start is not None:
        found.append(column >= span.start)
    if span.end is not None:
        found.append(column < span.end)
    return found


ORDER_HEADER = [
    "order",
    "created_at_utc",
    "buyer_name",
    "buyer_email",
    "state",
    "currency",
    "total",
    "authorized",
    "captured",
    "refunded",
    "payment_intent",
]


def _orders(span: Instants) -> tuple[Select[Any], Callable[[Any], list[str]]]:
    query = (
        select(
            Order.id,
            Order.created_at,
            Order.buyer_name,
            Order.buyer_email,
            Order.state,
            Order.currency,
            Order.total_amount,
            Order.amount_authorized,
            Order.amount_captured,
            Order.amount_refunded,
            Order.stripe_payment_intent_id,
        )
        .where(*_within(Order.created_at, span))
        .order_by(Order.created_at, Order.id)
    )

    def row(r: Any) -> list[str]:
        # Unpacked at once: a row's named attributes cost more than the rest of the line.
        ident, created, name, email, state, cur, total, held, taken, refunded, intent = r
        return [
            f"#{ident}",
            _moment(created),
            _text(name),
            _text(email),
            state,
            cur,
            _amount(total, cur),
            _amount(held, cur),
            _amount(taken, cur),
            _amount(refunded, cur),
            _text(intent),
        ]

    return cast("Select[Any]", query), row


PAYMENT_HEADER = [
    "order",
    "occurred_at_utc",
    "kind",
    "stripe_id",
    "status",
    "currency",
    "amount",
    "settlement_currency",
    "settled_amount",
    "fee",
    "net",
    "reason",
]


def _payments(span: Instants) -> tuple[Select[Any], Callable[[Any], list[str]]]:
    query = (
        select(
            MoneyMovement.order_id,
            MoneyMovement.occurred_at,
            MoneyMovement.kind,
            MoneyMovement.stripe_object_id,
            MoneyMovement.status,
            MoneyMovement.currency,
            MoneyMovement.amount,
            MoneyMovement.balance,
            MoneyMovement.reason,
        )
        .where(
            MoneyMovement.kind.in_([MovementKind.CAPTURE.value, MovementKind.REFUND.value]),
            *_within(MoneyMovement.occurred_at, span),
        )
        .order_by(MoneyMovement.occurred_at, MoneyMovement.id)
    )

    def row(r: Any) -> list[str]:
        balance = r.balance if isinstance(r.balance, dict) else {}
        settled = str(balance.get("currency") or "")
        amount, fee, net = balance.get("amount"), balance.get("fee"), balance.get("net")
        return [
            f"#{r.order_id}",
            _moment(r.occurred_at),
            r.kind,
            _text(r.stripe_object_id),
            r.status,
            r.currency,
            _amount(r.amount, r.currency),
            _text(settled),
            _amount(amount, settled) if isinstance(amount, int) and settled else "",
            _amount(fee, settled) if isinstance(fee, int) and settled else "",
            _amount(net, settled) if isinstance(net, int) and settled else "",
            _text(r.reason),
        ]

    return cast("Select[Any]", query), row


DISPUTE_HEADER = [
    "order",
    "opened_at_utc",
    "stripe_id",
    "status",
    "reason",
    "currency",
    "amount",
    "evidence_due_by_utc",
    "has_evidence",
    "submission_count",
    "past_due",
]


def _disputes(span: Instants) -> tuple[Select[Any], Callable[[Any], list[str]]]:
    query = (
        select(
            Dispute.order_id,
            Dispute.created_at,
            Dispute.stripe_dispute_id,
            Dispute.status,
            Dispute.reason,
            Dispute.currency,
            Dispute.amount,
            Dispute.evidence_due_by,
            Dispute.has_evidence,
            Dispute.submission_count,
            Dispute.past_due,
        )
        .where(*_within(Dispute.created_at, span))
        .order_by(Dispute.created_at, Dispute.id)
    )

    def row(r: Any) -> list[str]:
        return [
            f"#{r.order_id}",
            _moment(r.created_at),
            _text(r.stripe_dispute_id),
            _text(r.status),
            _text(r.reason),
            r.currency,
            _amount(r.amount, r.currency),
            _moment(r.evidence_due_by),
            "yes" if r.has_evidence else "no",
            str(r.submission_count),
            "yes" if r.past_due else "no",
        ]

    return cast("Select[Any]", query), row


SHAPES = {
    ExportKind.ORDERS: (ORDER_HEADER, _orders),
    ExportKind.PAYMENTS: (PAYMENT_HEADER, _payments),
    ExportKind.DISPUTES: (DISPUTE_HEADER, _disputes),
}


def count(export: Export) -> int:
    """How many rows the export holds (for a progress bar)."""
    query, _ = SHAPES[export.kind][1](export.span)
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def rows(export: Export, session: Session) -> Iterator[list[str]]:
    """The export's rows, header first, read through a server-side cursor."""
    header, shape = SHAPES[export.kind]
    query, row = shape(export.span)
    yield list(header)
    # Core rows off a server-side cursor (no ORM loading: these are plain columns).
    result = session.connection().execute(
        query.execution_options(stream_results=True, max_row_buffer=READ_BATCH)
    )
    for partition in result.partitions(READ_BATCH):
        for found in partition:
            yield row(found)


def streamed(export: Export, *, bom: bool = False) -> Iterator[str]:
    """The export for a web answer, read once the server iterates it (after the request has
    ended) on a connection of its own, closed with the last chunk or when the client goes
    away and the server closes the iterator."""
    engine = db.engine

    def chunks() -> Iterator[str]:
        with Session(engine) as session:
            yield from csv_chunks(export, session=session, bom=bom)

    return chunks()


def csv_chunks(
    export: Export,
    *,
    session: Session | None = None,
    bom: bool = False,
    progress: Callable[[int], None] | None = None,
    python: bool = False,
) -> Iterator[str]:
    """The export as CSV text (RFC 4180: CRLF, quoted where needed), a chunk at a time;
    `python=True` takes the Python path on PostgreSQL too (the tests compare the two)."""
    session = session or db.session()
    if not python and session.get_bind().dialect.name == "postgresql":
        # PostgreSQL writes the same bytes itself (services/export_copy.py).
        yield from export_copy.csv_chunks(
            export.kind.value, export.span, session, bom=BOM if bom else "", progress=progress
        )
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write(BOM)
    written = 0
    for line in rows(export, session):
        writer.writerow(line)
        written += 1
        if written % WRITE_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if progress is not None:
                progress(WRITE_BATCH)
    yield buffer.getvalue()
    if progress is not None:
        progress(written % WRITE_BATCH)


def record_export(export: Export, *, by: str, user_id: int | None, first: str, last: str) -> None:
    """The audit log's line for an export: who, what, which days (as asked) and instants."""
    audit.info(
        "export of %s from %s to %s (%s to %s) by %s",
        export.kind.value,
        first or "the start",
        last or "now",
        _moment(export.span.start) or "-",
        _moment(export.span.end) or "-",
        by,
        extra={
            "user_id": user_id,
            "export": export.kind.value,
            "from_day": first,
            "to_day": last,
            "by": by,
        },
    )
