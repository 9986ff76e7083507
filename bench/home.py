"""Home (the page after sign-in) at growing numbers of orders, through the real server (a
report, never a pass/fail).

    .venv/bin/python -m bench.home [--databases both|sqlite|postgresql]
        [--sizes 10000,1000000] [--requests 50] [--repeats 3] [--database-url URL]

For each database: a fresh scratch database, bulk-seeded up to each size in turn, the way a
shop's history grows: orders arrive at the same pace (one every 4.5 minutes, 320 a day, the
newest now), so 10,000 orders are the last 31 days and 1,000,000 are 8.5 years of them; the
last 30 days, which the page reads, hold the same orders at every size, and everything
before them is what a bigger table adds. Each order in the USD/EUR mix (one in four EUR)
has one payment attempt (one in eight declined, with a decline code), a capture
with its fee and net for those captured, a refund for one in ten; the 2,000 newest are
still held; one in 200 has a dispute (open in the last 30 days). The rollups are written
from the same rows as they are inserted (the figures `flask overview rebuild` would find).
gunicorn (gunicorn.conf.py) serves it; a separate process signs in once through the real
form and fetches `/` one request at a time. Prints the median p50 over the repetitions and
each size's time over the smallest size's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from bench.common import (
    argument_parser,
    print_table,
)
from bench.list_sizes import add_size_arguments, page_p50s, parse_sizes
from dashboard.domain.overview import settled_in
from dashboard.extensions import db
from dashboard.models import Dispute, MoneyMovement, Order, PaymentAttempt, utcnow
from dashboard.services.overview import rollups

APART = timedelta(minutes=4.5)
HELD = 2_000
DECLINES = ("insufficient_funds", "do_not_honor", "generic_decline", "expired_card")


RECENT = 10_000  # 31 days of orders, written row by row with their rollups


def seed(target: int, batch: int = 10_000) -> None:
    """Orders up to `target` in all, with their attempts, ledger, disputes and rollups."""
    have = db.session.scalar(select(func.count()).select_from(Order)) or 0
    now = utcnow()
    if have >= RECENT:
        seed_history(have, target, now)
        return
    target_recent, target = target, min(target, RECENT)
    # Ids count back in time from now (order 1 is the newest): a larger size adds only older
    # orders, and the last 30 days stay as they were.
    while have < target:
        upto = min(target, have + batch)
        orders, attempts, movements, disputes = [], [], [], []
        notes = rollups.Notes()
        for i in range(have + 1, upto + 1):
            age = i - 1
            at = now - APART * age
            currency = "EUR" if i % 4 == 0 else "USD"
            amount = 1000 + i % 5000
            held = age < HELD
            declined = i % 8 == 0
            state = "failed" if declined else ("authorized" if held else "captured")
            orders.append(
                {
                    "id": i,
                    "buyer_name": f"Buyer {i}",
                    "buyer_email": f"buyer{i:07d}@example.com",
                    "currency": currency,
                    "total_amount": amount,
                    "state": state,
                    "created_at": at,
                    "amount_authorized": 0 if declined else amount,
                    "amount_capturable": amount if held and not declined else 0,
                    "amount_captured": 0 if held or declined else amount,
                    "capture_before": at + timedelta(days=7),
                }
            )
            details = {"currency": currency.lower()}
            if declined:
                details["decline_code"] = DECLINES[i % len(DECLINES)]
            status = "failed" if declined else "succeeded"
            attempts.append(
                {
                    "order_id": i,
                    "attempt_key": f"ch_{i}",
                    "status": status,
                    "details": details,
                    "first_seen_at": at,
                    "updated_at": at,
                }
            )
            rollups.attempt_values(db.session(), notes, +1, at, i, status, details)
            if state != "captured":
                continue
            fee = 30 + amount * 29 // 1000
            balance = {"currency": "USD", "net": amount - fee, "fee": fee, "amount": amount}
            rows = [("capture", f"capture:ch_{i}", amount, "succeeded", balance)]
            if i % 10 == 0:
                back = {"currency": "USD", "net": -(amount // 2), "fee": 0, "amount": 0}
                rows.append(("refund", f"refund:re_{i}", amount // 2, "succeeded", back))
            for kind, key, value, row_status, row_balance in rows:
                movements.append(
                    {
                        "order_id": i,
                        "kind": kind,
                        "movement_key": key,
                        "amount": value,
                        "currency": currency,
                        "status": row_status,
                        "occurred_at": at,
                        "balance": row_balance,
                        "settlement_currency": settled_in(row_balance, currency),
                    }
                )
                rollups.movement_values(
                    notes, +1, at, kind, row_status, value, currency, row_balance
                )
            if i % 200 == 0:
                disputes.append(
                    {
                        "order_id": i,
                        "stripe_dispute_id": f"dp_{i}",
                        "amount": amount,
                        "currency": currency.lower(),
                        "reason": "fraudulent",
                        "status": "needs_response" if age < 320 * 30 else "won",
                        "evidence_due_by": at + timedelta(days=21),
                    }
                )
        db.session.execute(insert(Order), orders)
        db.session.execute(insert(PaymentAttempt), attempts)
        if movements:
            db.session.execute(insert(MoneyMovement), movements)
        if disputes:
            db.session.execute(insert(Dispute), disputes)
        rollups.apply(db.session.connection(), [notes])
        db.session.commit()
        have = upto
    if db.engine.dialect.name == "postgresql":
        for table in ("orders", "payment_attempts", "money_movements", "disputes"):
            db.session.execute(
                db.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608 - our table names
                    f" (SELECT max(id) FROM {table}))"
                )
            )
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    if target_recent > target:
        seed_history(target, target_recent, now)


def seed_history(have: int, target: int, now: datetime) -> None:
    """The older orders (ids after `have` up to `target`, each 4.5 minutes before the last),
    generated by the database itself: a million rows row by row would take an hour here.
    They are captured (one in eight failed), with their attempt and capture; their rollups
    are summed by the database too (older than the page's 30 days, they make the table as
    large as such a history makes it)."""
    postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        series = "SELECT g FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) g"
        at = "(CAST(:now AS timestamptz) - make_interval(secs => 270.0 * (g - 1)))"
        json = "CAST({} AS json)"
        bucket = "date_bin('15 minutes', occurred_at, TIMESTAMPTZ '2000-01-01')"
    else:
        series = "WITH RECURSIVE s(g) AS (SELECT :lo UNION ALL SELECT g + 1 FROM s WHERE g < :hi)"
        series += " SELECT g FROM s"
        at = "strftime('%Y-%m-%d %H:%M:%S.000000', :epoch - 270 * (g - 1), 'unixepoch')"
        json = "{}"
        bucket = (
            "substr(occurred_at, 1, 14) || printf('%02d', "
            "CAST(substr(occurred_at, 15, 2) AS INTEGER) / 15 * 15) || '\\:00.000000'"
        )
    amount = "(1000 + g % 5000)"
    failed = "(g % 8 = 0)"
    params = {"lo": have + 1, "hi": target, "now": now, "epoch": int(now.timestamp())}
    statements = [
        "INSERT INTO orders (id, buyer_name, buyer_email, currency, total_amount, state,"  # noqa: S608
        " created_at, amount_authorized, amount_capturable, amount_captured, capture_before)"
        f" SELECT g, 'Buyer ' || g, 'buyer' || g || '@example.com',"
        f" CASE WHEN g % 4 = 0 THEN 'EUR' ELSE 'USD' END, {amount},"
        f" CASE WHEN {failed} THEN 'failed' ELSE 'captured' END, {at},"
        f" CASE WHEN {failed} THEN 0 ELSE {amount} END, 0,"
        f" CASE WHEN {failed} THEN 0 ELSE {amount} END, {at}"
        f" FROM ({series}) AS gen",
        "INSERT INTO payment_attempts (order_id, attempt_key, status, details, first_seen_at,"  # noqa: S608
        " updated_at, currency, decline_reason)"
        f" SELECT g, 'ch_' || g, CASE WHEN {failed} THEN 'failed' ELSE 'succeeded' END,"
        + json.format(
            'CASE WHEN g % 4 = 0 THEN \'{"currency": "eur"}\' ELSE \'{"currency": "usd"}\' END'
        )
        + f", {at}, {at}, CASE WHEN g % 4 = 0 THEN 'EUR' ELSE 'USD' END,"
        f" CASE WHEN {failed} THEN 'unknown' END FROM ({series}) AS gen",
        "INSERT INTO money_movements (order_id, kind, movement_key, amount, currency, status,"  # noqa: S608
        " occurred_at)"
        f" SELECT g, 'capture', 'capture:ch_' || g, {amount},"
        f" CASE WHEN g % 4 = 0 THEN 'EUR' ELSE 'USD' END, 'succeeded', {at}"
        f" FROM ({series}) AS gen WHERE NOT {failed}",
        "INSERT INTO overview_buckets (bucket_start, currency, captured, captures)"  # noqa: S608
        f" SELECT {bucket}, currency, sum(amount), count(*) FROM money_movements"
        " WHERE order_id > :lo - 1 AND order_id <= :hi GROUP BY 1, 2"
        " ON CONFLICT DO NOTHING",
    ]
    for statement in statements:
        db.session.execute(db.text(statement), params)
    db.session.commit()
    if postgres:
        for table in ("orders", "payment_attempts", "money_movements"):
            db.session.execute(
                db.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" (SELECT max(id) FROM {table}))"
                )
            )
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def main() -> None:
    parser = argument_parser(__doc__)
    add_size_arguments(parser, "10000,1000000")
    args = parser.parse_args()
    sizes = parse_sizes(parser, args, minimum=2)
    rows = page_p50s(args, sizes, seed, lambda size: {"Home": "/"})
    print(
        f"\nGET / (Home), one connection, p50 ms (median of {args.repeats} x {args.requests} "
        "requests); in brackets, over the smallest size"
    )
    print_table(["database", "orders", "Home"], rows)


if __name__ == "__main__":
    main()
