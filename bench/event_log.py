"""The event log at growing table sizes, through the real server (a report, never a pass/fail).

    .venv/bin/python -m bench.event_log [--databases both|sqlite|postgresql]
        [--sizes 10000,100000,1000000] [--requests 50] [--repeats 3] [--database-url URL]

For each database: a fresh scratch database, bulk-seeded with inbox rows up to each size in
turn (one multi-row insert per 20,000; on PostgreSQL then ANALYZE, as autovacuum would
have): twelve event types in turn, mostly applied or ignored, 1 in 1,000 failed, 1 in
500 unmatched, 1 in 2,000 flagged, a second apart. gunicorn (gunicorn.conf.py) serves
it; a separate process signs in once through the real form and fetches, one request at a
time, `GET /events` (every page also shows the counts needing attention and the webhook
health panel): the first page, a status filter, a type filter, the failed tab, a deep
page (the keyset cursor halfway down), a search by event id and by PaymentIntent id.
Prints the median p50 over the repetitions, and each size's time over the smallest's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from bench.common import (
    argument_parser,
    print_table,
)
from bench.list_sizes import add_size_arguments, page_p50s, parse_sizes
from dashboard.extensions import db
from dashboard.models import StripeEvent

TYPES = (
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.canceled",
    "payment_intent.payment_failed",
    "charge.succeeded",
    "charge.captured",
    "charge.refunded",
    "charge.updated",
    "checkout.session.completed",
    "refund.created",
    "charge.dispute.created",
    "customer.created",
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def status_of(n: int) -> str:
    if n % 1000 == 7:
        return "failed"
    if n % 500 == 3:
        return "unmatched"
    return "ignored" if n % 4 == 0 else "applied"


def seed_events(target: int, batch: int = 20_000) -> None:
    have = db.session.scalar(select(func.count()).select_from(StripeEvent)) or 0
    while have < target:
        rows = []
        for n in range(have + 1, min(target, have + batch) + 1):
            when = START + timedelta(seconds=n)
            status = status_of(n)
            rows.append(
                {
                    "id": n,
                    "event_id": f"evt_bench{n:08d}",
                    "type": TYPES[n % len(TYPES)],
                    "livemode": False,
                    "created": when,
                    "payload": {"id": f"evt_bench{n:08d}", "data": {"object": {"id": f"pi_{n}"}}},
                    "object_id": f"pi_{n}",
                    "payment_intent_id": f"pi_{n}",
                    "source": "webhook",
                    "status": status,
                    "reason": "bench",
                    "error": "RuntimeError: bench" if status == "failed" else None,
                    "flag": "implausible" if n % 2000 == 11 else None,
                    "order_id": None,
                    "process_count": 1,
                    "delivery_count": 1,
                    "sync_count": 0,
                    "first_received_at": when,
                    "last_received_at": when,
                    "processed_at": when,
                }
            )
        db.session.execute(insert(StripeEvent), rows)
        db.session.commit()
        have += len(rows)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            db.text(
                "SELECT setval(pg_get_serial_sequence('stripe_events', 'id'), max(id)) "
                "FROM stripe_events"
            )
        )
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def pages(size: int) -> dict[str, str]:
    middle = max(size // 2, 1)
    return {
        "first page": "/events",
        "by status": "/events?status=applied",
        "by type": "/events?type=charge.captured",
        "failed tab": "/events?status=failed",
        "deep page": f"/events?older_than={middle}",
        "event id": f"/events?q=evt_bench{middle:08d}",
        "pi id": f"/events?q=pi_{middle}",
    }


def main() -> None:
    parser = argument_parser(__doc__)
    add_size_arguments(parser, "10000,100000,1000000")
    args = parser.parse_args()
    sizes = parse_sizes(parser, args, minimum=2)
    rows = page_p50s(args, sizes, seed_events, pages)
    print(
        f"\nGET /events..., one connection, p50 ms (median of {args.repeats} x {args.requests} "
        "requests); in brackets, over the smallest size"
    )
    print_table(["database", "events", *pages(2)], rows)


if __name__ == "__main__":
    main()
