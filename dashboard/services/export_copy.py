"""The CSV exports written by PostgreSQL itself: `COPY (SELECT …) TO STDOUT WITH (FORMAT
csv, HEADER)` through psycopg's `cursor.copy()`, a chunk at a time, with the same bytes as
the Python path (services/exports.py), which SQLite keeps.

Python formatting every cell was the export's cost (issue 17, docs/benchmarks.md's seventh
run: 3.5 times the read of its rows); here each cell is made in SQL as exports.py makes it:
amounts in major units by the currency's exponent (domain/money.py), instants as UTC
`…Z`, cells a spreadsheet would run given a leading quote (domain/csv_cells.py), empty text
as NULL (COPY writes an empty string as `""`, Python's csv module as nothing).

COPY ends lines with LF; the exports end them with CRLF, and a cell may hold a bare LF.
So each row gets a last column holding a marker made fresh for each export (128 random
bits, which no cell can be made to guess), and `,<marker>\\n` becomes `\\r\\n` as chunks
pass; the count of markers is the count of rows written, for the progress bar.
"""

from __future__ import annotations

import codecs
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from psycopg import sql
from sqlalchemy.orm import Session

from dashboard.domain.csv_cells import FORMULA_STARTS
from dashboard.domain.days import Instants
from dashboard.domain.money import THREE_DECIMAL, ZERO_DECIMAL

# Bytes gathered before a chunk is passed on (COPY sends one message a row).
CHUNK = 64 * 1024

_STARTS = ", ".join("'" + c.replace("'", "''") + "'" for c in FORMULA_STARTS)
_ZERO = ", ".join(f"'{c}'" for c in sorted(ZERO_DECIMAL))
_THREE = ", ".join(f"'{c}'" for c in sorted(THREE_DECIMAL))


def _text(column: str) -> str:
    """exports._text: NULL for no text, a leading quote where a formula would start."""
    return (
        f"CASE WHEN left({column}, 1) IN ({_STARTS}) THEN '''' || {column}"
        f" ELSE NULLIF({column}, '') END"
    )


def _plain(column: str) -> str:
    return f"NULLIF(CAST({column} AS text), '')"


def _moment(column: str) -> str:
    """exports._moment: the instant in UTC to the second (truncated, as isoformat does)."""
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


def _amount(minor: str, currency: str) -> str:
    """exports._amount / money.format_plain: minor units in major units, exactly."""
    code = f"upper(btrim({currency}))"
    number = f"CAST({minor} AS numeric)"
    return (
        f"CASE WHEN {code} IN ({_ZERO}) THEN CAST({number} AS text)"
        f" WHEN {code} IN ({_THREE}) THEN CAST(round({number} / 1000, 3) AS text)"
        f" ELSE CAST(round({number} / 100, 2) AS text) END"
    )


def _yes_no(column: str) -> str:
    return f"CASE WHEN {column} THEN 'yes' ELSE 'no' END"


def _within(column: str, span: Instants) -> tuple[list[str], list[Any]]:
    found, params = [], []
    if span.start is not None:
        found.append(f"{column} >= %s")
        params.append(span.start)
    if span.end is not None:
        found.append(f"{column} < %s")
        params.append(span.end)
    return found, params


def _balance(key: str) -> str:
    """An amount of the payment's balance transaction, where Python would read an int."""
    settled = "(balance ->> 'currency')"
    value = f"(balance ->> '{key}')"
    return (
        f"CASE WHEN json_typeof(balance -> '{key}') = 'number' AND {value} ~ '^-?[0-9]+$'"
        f" AND COALESCE({settled}, '') <> '' THEN {_amount(value, settled)} END"
    )


# Per export: ((header, cell) pairs, table, where, time column, order by).
Shape = tuple[list[tuple[str, str]], str, list[str], str, str]
_ORDERS: Shape = (
    [
        ("order", "'#' || id"),
        ("created_at_utc", _moment("created_at")),
        ("buyer_name", _text("buyer_name")),
        ("buyer_email", _text("buyer_email")),
        ("state", _plain("state")),
        ("currency", _plain("currency")),
        ("total", _amount("total_amount", "currency")),
        ("authorized", _amount("amount_authorized", "currency")),
        ("captured", _amount("amount_captured", "currency")),
        ("refunded", _amount("amount_refunded", "currency")),
        ("payment_intent", _text("stripe_payment_intent_id")),
    ],
    "orders",
    [],
    "created_at",
    "created_at, id",
)
_PAYMENTS: Shape = (
    [
        ("order", "'#' || order_id"),
        ("occurred_at_utc", _moment("occurred_at")),
        ("kind", _plain("kind")),
        ("stripe_id", _text("stripe_object_id")),
        ("status", _plain("status")),
        ("currency", _plain("currency")),
        ("amount", _amount("amount", "currency")),
        ("settlement_currency", _text("(balance ->> 'currency')")),
        ("settled_amount", _balance("amount")),
        ("fee", _balance("fee")),
        ("net", _balance("net")),
        ("reason", _text("reason")),
    ],
    "money_movements",
    ["kind IN ('capture', 'refund')"],
    "occurred_at",
    "occurred_at, id",
)
_DISPUTES: Shape = (
    [
        ("order", "'#' || order_id"),
        ("opened_at_utc", _moment("created_at")),
        ("stripe_id", _text("stripe_dispute_id")),
        ("status", _text("status")),
        ("reason", _text("reason")),
        ("currency", _plain("currency")),
        ("amount", _amount("amount", "currency")),
        ("evidence_due_by_utc", _moment("evidence_due_by")),
        ("has_evidence", _yes_no("has_evidence")),
        ("submission_count", _plain("submission_count")),
        ("past_due", _yes_no("past_due")),
    ],
    "disputes",
    [],
    "created_at",
    "created_at, id",
)
SHAPES = {"orders": _ORDERS, "payments": _PAYMENTS, "disputes": _DISPUTES}


def statement(kind: str, span: Instants, marker: str) -> tuple[str, list[Any]]:
    """The COPY statement (psycopg binds its parameters client-side) and its parameters."""
    cells, table, where, moment, order_by = SHAPES[kind]
    bounds, params = _within(moment, span)
    select = ", ".join(f'{cell} AS "{name}"' for name, cell in cells)
    conditions = " AND ".join([*where, *bounds]) or "true"
    # Every piece is this module's own text (the marker is hex); the bounds are parameters.
    query = (
        f"SELECT {select}, '{marker}' AS \"{marker}\" FROM {table}"  # noqa: S608
        f" WHERE {conditions} ORDER BY {order_by}"
    )
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", params


def csv_chunks(
    kind: str,
    span: Instants,
    session: Session,
    *,
    bom: str = "",
    progress: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The export as PostgreSQL writes it, CRLF line ends, a chunk (about 64 KB) at a time."""
    marker = "eol" + secrets.token_hex(16)
    row_end = f",{marker}\n"
    held = len(row_end) - 1
    query, params = statement(kind, span, marker)
    connection = session.connection().connection.driver_connection
    assert connection is not None
    decoder = codecs.getincrementaldecoder(connection.info.encoding)()
    carried = bom

    def passed(blocks: list[bytes], final: bool = False) -> tuple[str, int]:
        nonlocal carried
        text = carried + decoder.decode(b"".join(blocks), final=final)
        rows = text.count(row_end)
        text = text.replace(row_end, "\r\n")
        if final:
            carried = ""
            return text, rows
        # A row's end may be cut in two between chunks: keep what could be its start.
        carried, text = text[-held:], text[:-held]
        return text, rows

    # PostgreSQL sends a message a row: gathered into chunks of CHUNK bytes or so.
    blocks: list[bytes] = []
    size = 0
    with connection.cursor() as cursor, cursor.copy(sql.SQL(query), params or None) as copy:
        for block in copy:
            blocks.append(bytes(block))
            size += len(block)
            if size < CHUNK:
                continue
            text, rows = passed(blocks)
            blocks, size = [], 0
            yield text
            if progress is not None:
                progress(rows)
    text, rows = passed(blocks, final=True)
    yield text
    if progress is not None:
        progress(rows)
