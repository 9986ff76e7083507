"""The Disputes page at growing table sizes, through the real server (a report, never a
pass/fail): as flat as the order list.

    .venv/bin/python -m bench.dispute_list [--databases both|sqlite|postgresql]
        [--sizes 10000,100000,1000000] [--requests 50] [--repeats 3] [--database-url URL]

For each database: a fresh scratch database, bulk-seeded with disputes up to each size in
turn (one order each; deadlines an hour apart, one in 20 with none, every status); gunicorn
serves it; a separate process signs in once and fetches, one request at a time: the first
page, a deep page (the cursor halfway down the deadlines) and the tail of disputes with
no deadline. Prints the median p50 over the repetitions, and each size's time over the
smallest size's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bench.common import (
    argument_parser,
    print_table,
)
from bench.list_sizes import add_size_arguments, page_p50s, parse_sizes
from dashboard.extensions import db
from dashboard.models import Dispute
from dashboard.services.dispute_list import Cursor

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ("needs_response", "under_review", "won", "lost", "warning_needs_response")


def due(n: int) -> datetime | None:
    return None if n % 20 == 0 else START + timedelta(hours=n)


def seed(target: int, batch: int = 20_000) -> None:
    """Disputes up to `target` (and an order for each), bulk-inserted."""
    have = db.session.scalar(select(func.count()).select_from(Dispute)) or 0
    while have < target:
        n = min(batch, target - have)
        ids = range(have + 1, have + n + 1)
        db.session.execute(
            db.text(
                "INSERT INTO orders (id, buyer_name, buyer_email, currency, total_amount, state,"
                " created_at) VALUES (:id, 'Buyer', 'buyer@example.com', 'USD', 1000,"
                " 'captured', :at)"
            ),
            [{"id": i, "at": START} for i in ids],
        )
        db.session.execute(
            db.text(
                "INSERT INTO disputes (order_id, stripe_dispute_id, amount, currency, reason,"
                " status, evidence_due_by, created_at, updated_at) VALUES (:id, :sid, 1000,"
                " 'USD', 'fraudulent', :status, :due, :at, :at)"
            ),
            [
                {
                    "id": i,
                    "sid": f"dp_bench_{i}",
                    "status": STATUSES[i % 5],
                    "due": due(i),
                    "at": START,
                }
                for i in ids
            ],
        )
        have += n
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE disputes"))
        db.session.execute(db.text("ANALYZE orders"))
        db.session.commit()


def pages(size: int) -> dict[str, str]:
    middle = size // 2 + 1 if (size // 2 + 1) % 20 else size // 2 + 2
    return {
        "first page": "/disputes",
        "deep page": f"/disputes?after={Cursor(due(middle), middle).text()}",
        "no-deadline tail": f"/disputes?after={Cursor(None, middle).text()}",
    }


def main() -> None:
    parser = argument_parser(__doc__)
    add_size_arguments(parser, "10000,100000,1000000")
    args = parser.parse_args()
    sizes = parse_sizes(parser, args, minimum=100)
    rows = page_p50s(args, sizes, seed, pages)
    print(
        f"\nGET /disputes..., one connection, p50 ms (median of {args.repeats} x "
        f"{args.requests} requests); in brackets, over the smallest size"
    )
    print_table(["database", "disputes", *pages(100)], rows)


if __name__ == "__main__":
    main()
