"""The order page with a long timeline, through the real server (a report, never a pass/fail).

    .venv/bin/python -m bench.order_detail [--databases both|sqlite|postgresql]
        [--entries 1000] [--requests 200] [--repeats 3] [--database-url URL]

One order receives `entries` distinct webhook events through the real ingest service (the
first authorizes it; the rest are ignored as stale, each still a timeline entry), so its
timeline holds about that many entries. gunicorn (gunicorn.conf.py) serves it; a separate
process signs in once and fetches `GET /orders/<id>` one request at a time. Prints the
median p50/p99 over the repetitions.
"""

from __future__ import annotations

import statistics

from sqlalchemy import func, select

from bench.common import (
    EMAIL,
    PASSWORD,
    argument_parser,
    gunicorn,
    migrated_app,
    order_amount,
    payment_intent_event,
    print_table,
    scratch_databases,
    seed_orders,
    sign_in,
)
from bench.loadgen import run_load
from dashboard.extensions import db
from dashboard.models import Role, TimelineEntry
from dashboard.services import users
from dashboard.services.inbox import store


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rows = []
    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        with app.app_context():
            seed_orders(1)
            users.create_user(EMAIL, PASSWORD, Role.STAFF)
            db.session.commit()
            for i in range(args.entries):
                event = payment_intent_event(
                    f"evt_timeline{i}",
                    1,
                    order_amount(1),
                    "payment_intent.amount_capturable_updated",
                )
                store.receive(event, source="webhook")
                db.session.commit()
            entries = db.session.scalar(
                select(func.count()).select_from(TimelineEntry).where(TimelineEntry.order_id == 1)
            )
        with gunicorn(scratch) as port:
            cookie = sign_in(port)
            page = [("GET", "/orders/1", b"", {"Cookie": cookie})]
            warm = run_load(port, page * 20, 1)
            if set(warm.statuses) != {200}:
                raise RuntimeError(f"/orders/1 answered {warm.statuses}")
            found = [run_load(port, page * args.requests, 1) for _ in range(args.repeats)]
        rows.append(
            [
                scratch.label,
                str(entries),
                f"{statistics.median(r.p50_ms for r in found):.1f}",
                f"{statistics.median(r.p99_ms for r in found):.1f}",
                f"{statistics.median(r.rps for r in found):.0f}",
            ]
        )
    print(f"\nGET /orders/1, one connection, median of {args.repeats} x {args.requests} requests")
    print_table(["database", "timeline entries", "p50 ms", "p99 ms", "req/s"], rows)


if __name__ == "__main__":
    main()
