"""CSV exports: exact content for a shop's week (two currencies, partial captures,
refunds), formula cells neutralised, days in the viewer's zone, bad queries and flags,
who may export, and the audit line."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from dashboard.domain.days import Instants, days_span
from dashboard.extensions import db
from dashboard.models import Dispute, MoneyMovement, Order, Role, User
from dashboard.services import exports
from dashboard.services.exports import ExportKind


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def order(**columns):
    values = {
        "buyer_name": "Ada Lovelace",
        "buyer_email": "ada@example.com",
        "currency": "USD",
        "total_amount": 3000,
        "state": "captured",
    }
    values.update(columns)
    made = Order(**values)
    db.session.add(made)
    db.session.flush()
    return made


def movement(made, kind, key, amount, when, balance=None, **columns):
    db.session.add(
        MoneyMovement(
            order_id=made.id,
            kind=kind,
            movement_key=key,
            stripe_object_id=key,
            amount=amount,
            currency=made.currency,
            status="succeeded",
            occurred_at=at(when),
            balance=balance,
            **columns,
        )
    )


@pytest.fixture
def week(app):
    """A USD order captured in part ($18.00 of $30.00) and refunded $5.00, settled in USD;
    a EUR order captured in full, settled in USD at 1.1; a release (not a payment)."""
    with app.app_context():
        usd = order(
            created_at=at("2026-12-01T10:00:00"),
            amount_authorized=3000,
            amount_captured=1800,
            amount_refunded=500,
            stripe_payment_intent_id="pi_1",
        )
        eur = order(
            buyer_name="Émile Zola",
            buyer_email="emile@example.fr",
            currency="EUR",
            total_amount=2500,
            amount_authorized=2500,
            amount_captured=2500,
            created_at=at("2026-12-02T09:30:00"),
            stripe_payment_intent_id="pi_2",
        )
        movement(
            usd,
            "capture",
            "ch_1",
            1800,
            "2026-12-01T11:00:00",
            {"id": "txn_1", "amount": 1800, "currency": "USD", "fee": 82, "net": 1718},
        )
        movement(usd, "release", "ch_1:release", 1200, "2026-12-01T11:00:00")
        movement(
            usd,
            "refund",
            "re_1",
            500,
            "2026-12-03T08:00:00",
            {"id": "txn_2", "amount": -500, "currency": "USD", "fee": 0, "net": -500},
            reason="requested_by_customer",
        )
        movement(
            eur,
            "capture",
            "ch_2",
            2500,
            "2026-12-02T10:00:00",
            {"id": "txn_3", "amount": 2750, "currency": "USD", "fee": 110, "net": 2640},
        )
        db.session.add(
            Dispute(
                order_id=eur.id,
                stripe_dispute_id="dp_1",
                amount=2500,
                currency="EUR",
                reason="fraudulent",
                status="needs_response",
                created_at=at("2026-12-04T12:00:00"),
                evidence_due_by=at("2026-12-14T23:59:59"),
            )
        )
        db.session.commit()
        return usd.id, eur.id


def csv_of(client, kind, **query):
    answer = client.get(f"/exports/{kind}.csv", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    return answer.get_data().decode("utf-8")


def test_the_exports_hold_exactly_the_weeks_orders_payments_and_disputes(signed_in, week):
    usd, eur = week
    support = signed_in(Role.SUPPORT)  # support may export
    assert csv_of(support, "orders", **{"from": "2026-12-01", "to": "2026-12-07"}) == (
        "order,created_at_utc,buyer_name,buyer_email,state,currency,total,authorized,captured,"
        "refunded,payment_intent\r\n"
        f"#{usd},2026-12-01T10:00:00Z,Ada Lovelace,ada@example.com,captured,USD,30.00,30.00,"
        "18.00,5.00,pi_1\r\n"
        f"#{eur},2026-12-02T09:30:00Z,Émile Zola,emile@example.fr,captured,EUR,25.00,25.00,"
        "25.00,0.00,pi_2\r\n"
    )
    assert csv_of(support, "payments", **{"from": "2026-12-01", "to": "2026-12-07"}) == (
        "order,occurred_at_utc,kind,stripe_id,status,currency,amount,settlement_currency,"
        "settled_amount,fee,net,reason\r\n"
        f"#{usd},2026-12-01T11:00:00Z,capture,ch_1,succeeded,USD,18.00,USD,18.00,0.82,17.18,\r\n"
        f"#{eur},2026-12-02T10:00:00Z,capture,ch_2,succeeded,EUR,25.00,USD,27.50,1.10,26.40,\r\n"
        f"#{usd},2026-12-03T08:00:00Z,refund,re_1,succeeded,USD,5.00,USD,-5.00,0.00,-5.00,"
        "requested_by_customer\r\n"
    )
    assert csv_of(support, "disputes") == (
        "order,opened_at_utc,stripe_id,status,reason,currency,amount,evidence_due_by_utc,"
        "has_evidence,submission_count,past_due\r\n"
        f"#{eur},2026-12-04T12:00:00Z,dp_1,needs_response,fraudulent,EUR,25.00,"
        "2026-12-14T23:59:59Z,no,0,no\r\n"
    )
    with_bom = support.get("/exports/disputes.csv?bom=1").get_data()
    assert with_bom.startswith("\ufefforder,".encode())


def test_cells_a_spreadsheet_would_run_are_neutralised(app, signed_in):
    names = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "Plain -1"]
    with app.app_context():
        for n, name in enumerate(names):
            order(buyer_name=name, created_at=at(f"2026-12-01T10:00:0{n}"))
        db.session.commit()
    text = csv_of(signed_in(Role.STAFF), "orders")
    read = [row[2] for row in csv.reader(io.StringIO(text, newline=""))][1:]
    assert read == [
        '\'=HYPERLINK("http://x")',
        "'+1+1",
        "'-2",
        "'@SUM(A1)",
        "'\tTab",
        "'\rCR",
        "Plain -1",
    ]


def test_days_are_the_viewers_own(app, signed_in, make_user):
    """In Tokyo (UTC+9) 6 December runs from 5 December 15:00 UTC to 6 December 15:00 UTC."""
    with app.app_context():
        for moment in (
            "2026-12-05T14:59:59",
            "2026-12-05T15:00:00",
            "2026-12-06T14:59:59",
            "2026-12-06T15:00:00",
        ):
            order(buyer_name=moment, created_at=at(moment))
        db.session.commit()
    client = signed_in(Role.STAFF)
    with app.app_context():
        db.session.query(User).update({"time_zone": "Asia/Tokyo"})
        db.session.commit()
    text = csv_of(client, "orders", **{"from": "2026-12-06", "to": "2026-12-06"})
    assert [line.split(",")[2] for line in text.splitlines()[1:]] == [
        "2026-12-05T15:00:00",
        "2026-12-06T14:59:59",
    ]


@pytest.mark.parametrize(
    ("path", "query", "says"),
    [
        ("/exports/orders.csv", {"from": "2026-13-01"}, "The “from” day is not a date"),
        ("/exports/orders.csv", {"to": "yesterday"}, "The “to” day is not a date"),
        ("/exports/orders.csv", {"from": "2026-12-08", "to": "2026-12-01"}, "swap them"),
        ("/exports/orders.csv", {"bom": "yes"}, "bom is 1"),
        ("/exports/customers.csv", {}, "There is no export called"),
    ],
)
def test_a_query_the_export_cannot_run_is_a_clear_400(signed_in, path, query, says):
    answer = signed_in(Role.SUPPORT).get(path, query_string=query)
    assert answer.status_code == 400
    assert says in answer.get_data(as_text=True)


def test_each_export_is_in_the_audit_log(signed_in, week, caplog):
    client = signed_in(Role.SUPPORT)
    with caplog.at_level(logging.INFO, logger="dashboard.audit"):
        csv_of(client, "payments", **{"from": "2026-12-01", "to": "2026-12-07"})
    (record,) = [r for r in caplog.records if r.name == "dashboard.audit"]
    assert record.getMessage() == (
        "export of payments from 2026-12-01 to 2026-12-07 (2026-12-01T00:00:00Z to "
        "2026-12-08T00:00:00Z) by support@shop.example"
    )
    assert (record.export, record.from_day, record.to_day) == (
        "payments",
        "2026-12-01",
        "2026-12-07",
    )


def test_the_export_command_writes_the_file_with_a_progress_bar(app, week, tmp_path, caplog):
    _usd, eur = week
    out = tmp_path / "orders.csv"
    runner = app.test_cli_runner()
    with caplog.at_level(logging.INFO, logger="dashboard.audit"):
        result = runner.invoke(
            args=[
                "export",
                "orders",
                "--from",
                "2026-12-02",
                "--to",
                "2026-12-02",
                "--out",
                str(out),
            ]
        )
    assert result.exit_code == 0, result.output
    assert "Exporting orders" in result.stderr
    assert "1 orders written to" in result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith(f"#{eur},2026-12-02T09:30:00Z,Émile Zola,")
    assert len(lines) == 2
    assert [r.export for r in caplog.records if r.name == "dashboard.audit"] == ["orders"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["orders", "--from", "12/01/2026"], "is not a day: write it as YYYY-MM-DD"),
        (["orders", "--from", "2026-12-09", "--to", "2026-12-01"], "swap them"),
        (["customers"], "'customers' is not one of"),
        (["orders", "--time-zone", "Mars/Olympus"], "is not a time zone"),
    ],
)
def test_bad_export_flags_are_refused_with_a_clear_error(app, args, says):
    result = app.test_cli_runner().invoke(args=["export", *args])
    assert result.exit_code == 2
    assert says in result.output


HOSTILE_NAMES = [
    '=HYPERLINK("http://x")',
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\tTab",
    "\rCR",
    'Say "hi", then leave',
    "two\nlines",
    "crlf\r\ninside",
    "Zoë 東京 😀",
    "",
    " leading space",
    "trailing,",
    "'already quoted",
    "\\.",
]


@pytest.fixture
def hostile(app):
    """Text a spreadsheet or a CSV reader could trip on, in every text column; USD, JPY
    (no minor unit) and KWD (three places); partial captures, refunds, odd balances,
    disputes; instants on, just before and just after the span's bounds (1-7 December)."""
    with app.app_context():
        made = []
        for n, name in enumerate(HOSTILE_NAMES):
            currency = ("USD", "JPY", "KWD")[n % 3]
            made.append(
                order(
                    buyer_name=name,
                    buyer_email=HOSTILE_NAMES[-1 - n],
                    currency=currency,
                    total_amount=1234567 + n,
                    amount_authorized=1005 * n,
                    amount_captured=5 * n,
                    amount_refunded=n,
                    state="captured" if n % 2 else "partially_refunded",
                    stripe_payment_intent_id=name or None,
                    created_at=at(f"2026-12-0{1 + n % 7}T10:00:0{n % 10}.999999"),
                )
            )
        for moment in ("2026-11-30T23:59:59.999999", "2026-12-01T00:00:00", "2026-12-08"):
            order(buyer_name=moment, created_at=at(moment), currency="JPY", total_amount=7)
        usd, jpy, kwd = made[0], made[1], made[2]
        balances = [
            {"amount": 1800, "currency": "USD", "fee": 82, "net": 1718},
            {"amount": 1234, "currency": "usd", "fee": 1.5, "net": "12"},
            {"amount": -500, "currency": "KWD", "fee": 0, "net": -500},
            {"amount": 900, "currency": "JPY", "fee": 30, "net": 870},
            {"amount": 5, "currency": "", "fee": 1, "net": 4},
            None,
            {"id": "txn_no_amounts"},
        ]
        for n, balance in enumerate(balances):
            target = (usd, jpy, kwd)[n % 3]
            kind = "refund" if n % 2 else "capture"
            movement(
                target,
                kind,
                f"{HOSTILE_NAMES[n]}-{n}",
                -n if kind == "refund" else 1000 * n + 1,
                f"2026-12-0{1 + n}T0{n}:00:00.5",
                balance,
                reason=HOSTILE_NAMES[n + 5],
            )
        movement(usd, "release", "release-1", 300, "2026-12-02T00:00:00")
        movement(usd, "capture", "on-the-end", 1, "2026-12-08T00:00:00")
        for n, target in enumerate((usd, jpy, kwd)):
            db.session.add(
                Dispute(
                    order_id=target.id,
                    stripe_dispute_id=f"dp_{HOSTILE_NAMES[n]}",
                    amount=1001 * (n + 1),
                    currency=target.currency,
                    reason=HOSTILE_NAMES[n + 6],
                    status=HOSTILE_NAMES[n + 3],
                    created_at=at(f"2026-12-0{n + 1}T23:59:59.75"),
                    evidence_due_by=at("2026-12-20T12:00:00") if n else None,
                    has_evidence=n == 1,
                    submission_count=n,
                    past_due=n == 2,
                )
            )
        db.session.commit()
        return usd.id, jpy.id, kwd.id


SPANS = {
    "everything": Instants(None, None),
    "1-7 December": days_span(date(2026, 12, 1), date(2026, 12, 7)),
}


def exported(export, *, bom=False, python=False):
    counted = []
    text = "".join(exports.csv_chunks(export, bom=bom, progress=counted.append, python=python))
    return text, sum(counted)


@pytest.mark.parametrize("kind", list(ExportKind))
@pytest.mark.parametrize("span", list(SPANS))
def test_postgresql_writes_the_same_bytes_as_python_for_hostile_rows(app, hostile, kind, span):
    """On PostgreSQL the export is written by COPY; it must be the Python path's, byte for
    byte, for text that needs quoting or neutralising, three currencies and the bounds."""
    export = exports.Export(kind, SPANS[span])
    with app.app_context():
        text, counted = exported(export)
        lines = list(csv.reader(io.StringIO(text, newline="")))
        assert counted == len(lines) > 1
        assert text.endswith("\r\n")
        if db.engine.dialect.name != "postgresql":
            return  # SQLite has only the Python path
        python, python_counted = exported(export, python=True)
        assert text == python
        assert counted == python_counted
        with_bom, _ = exported(export, bom=True)
        assert with_bom == "\ufeff" + python


def test_hostile_cells_read_back_as_they_were_written(app, hostile):
    usd, jpy, kwd = hostile
    span = SPANS["1-7 December"]
    with app.app_context():
        orders, _ = exported(exports.Export(ExportKind.ORDERS, span))
        payments, _ = exported(exports.Export(ExportKind.PAYMENTS, span))
        disputes, _ = exported(exports.Export(ExportKind.DISPUTES, span))
    rows = list(csv.reader(io.StringIO(orders, newline="")))[1:]
    assert [r[2] for r in rows if r[0] in (f"#{usd}", f"#{jpy}", f"#{kwd}")] == [
        '\'=HYPERLINK("http://x")',
        "'+1+1",
        "'-2",
    ]
    by_order = {r[0]: r for r in rows}
    assert by_order[f"#{usd}"][1] == "2026-12-01T10:00:00Z"  # truncated, not rounded
    assert by_order[f"#{usd}"][6:10] == ["12345.67", "0.00", "0.00", "0.00"]
    assert by_order[f"#{jpy}"][6:10] == ["1234568", "1005", "5", "1"]
    assert by_order[f"#{kwd}"][6:10] == ["1234.569", "2.010", "0.010", "0.002"]
    assert "2026-12-01T00:00:00" in [r[2] for r in rows]
    assert "2026-11-30T23:59:59.999999" not in [r[2] for r in rows]
    assert "2026-12-08" not in [r[2] for r in rows]
    assert sorted(r[2] for r in rows if r[2] in HOSTILE_NAMES) == sorted(
        n for n in HOSTILE_NAMES if not n.startswith(("=", "+", "-", "@", "\t", "\r"))
    )
    paid = list(csv.reader(io.StringIO(payments, newline="")))[1:]
    assert [r[6:11] for r in paid] == [
        ["0.01", "USD", "18.00", "0.82", "17.18"],
        ["-1", "usd", "12.34", "", ""],
        ["2.001", "KWD", "-0.500", "0.000", "-0.500"],
        ["-0.03", "JPY", "900", "30", "870"],
        ["4001", "", "", "", ""],
        ["-0.005", "", "", "", ""],
        ["60.01", "", "", "", ""],
    ]
    opened = list(csv.reader(io.StringIO(disputes, newline="")))[1:]
    assert [r[3:] for r in opened] == [
        ["'@SUM(A1)", 'Say "hi", then leave', "USD", "10.01", "", "no", "0", "no"],
        ["'\tTab", "two\nlines", "JPY", "2002", "2026-12-20T12:00:00Z", "yes", "1", "no"],
        ["'\rCR", "crlf\r\ninside", "KWD", "3.003", "2026-12-20T12:00:00Z", "no", "2", "yes"],
    ]


def test_a_long_export_is_the_same_across_chunk_ends(app):
    """Over 64 KB PostgreSQL's rows pass in several chunks; no row's end is lost between."""
    with app.app_context():
        db.session.execute(
            insert(Order),
            [
                {
                    "buyer_name": HOSTILE_NAMES[n % len(HOSTILE_NAMES)] * (1 + n % 4),
                    "buyer_email": f"b{n}@example.com",
                    "currency": ("USD", "JPY", "KWD")[n % 3],
                    "total_amount": 1 + n * 977,
                    "state": "authorized",
                    "created_at": at("2026-12-01T00:00:00") + timedelta(seconds=n),
                }
                for n in range(3000)
            ],
        )
        db.session.commit()
        export = exports.Export(ExportKind.ORDERS, Instants(None, None))
        text, counted = exported(export)
        assert counted == 3001
        assert len(text.encode()) > 4 * 64 * 1024
        if db.engine.dialect.name == "postgresql":
            assert text == exported(export, python=True)[0]


def test_a_download_given_up_halfway_leaves_the_database_usable(app):
    """The browser goes away after the first chunk: the server closes the stream (on
    PostgreSQL the COPY is cancelled), and the next export runs whole."""
    with app.app_context():
        db.session.execute(
            insert(Order),
            [
                {
                    "buyer_name": f"Zoë Lovelace, {n}" * 8,
                    "buyer_email": f"b{n}@example.com",
                    "currency": "USD",
                    "total_amount": 100 + n,
                    "state": "authorized",
                    "created_at": at("2026-12-01T00:00:00") + timedelta(seconds=n),
                }
                for n in range(2000)
            ],
        )
        db.session.commit()
        export = exports.Export(ExportKind.ORDERS, Instants(None, None))
        body = exports.streamed(export)
        first = next(body)
        body.close()
        assert first.startswith("order,created_at_utc,")
        assert first.count("\r\n") < 2001  # the rest never read
        whole = "".join(exports.streamed(export))
        assert whole.startswith(first)
        assert whole.count("\r\n") == 2001
