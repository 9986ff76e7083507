"""The Customers page at growing table sizes, through the real server (a report, never a
pass/fail).

    .venv/bin/python -m bench.customer_list [--databases both|sqlite|postgresql]
        [--sizes 10000,100000,1000000] [--requests 50] [--repeats 3] [--database-url URL]

For each database: a fresh scratch database, bulk-seeded with customers up to each size in
turn (one multi-row insert per 20,000; on PostgreSQL then ANALYZE), named as the order
list's bench names its buyers (a first name of 50, a made-up surname). gunicorn serves it;
a separate process signs in once and fetches, one request at a time: the first page, a
deep page (the cursor halfway down), an email prefix, a customer's name (first name and
the start of the surname), and one common first name alone (1 customer in 50 has it).
Prints the median p50 over the repetitions, and each size's time over the smallest's.
"""

from __future__ import annotations

import statistics
from urllib.parse import urlencode

from sqlalchemy import func, insert, select

from bench.common import (
    EMAIL,
    PASSWORD,
    argument_parser,
    gunicorn,
    migrated_app,
    print_table,
    scratch_databases,
    sign_in,
)
from bench.loadgen import run_load
from bench.order_list import buyer_name, created_at
from dashboard.extensions import db
from dashboard.models import Customer, Role
from dashboard.services import users


def seed_customers(target: int, batch: int = 20_000) -> None:
    have = db.session.scalar(select(func.count()).select_from(Customer)) or 0
    while have < target:
        rows = [
            {
                "id": i,
                "email": f"customer{i:07d}@example.com",
                "name": buyer_name(3 * i),
                "created_at": created_at(i),
                "updated_at": created_at(i),
            }
            for i in range(have + 1, min(target, have + batch) + 1)
        ]
        db.session.execute(insert(Customer), rows)
        db.session.commit()
        have += len(rows)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            db.text(
                "SELECT setval(pg_get_serial_sequence('customers', 'id'), max(id)) FROM customers"
            )
        )
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def pages(size: int) -> dict[str, str]:
    middle = max(size // 2, 1)
    first, surname = buyer_name(3 * middle).split()
    return {
        "first page": "/customers",
        "deep page": f"/customers?older_than={middle}",
        "email": "/customers?" + urlencode({"q": f"customer{middle:07d}@"}),
        "name": "/customers?" + urlencode({"q": f"{first.lower()} {surname[:6].lower()}"}),
        "common name": "/customers?" + urlencode({"q": first}),
    }


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    try:
        sizes = sorted(int(size) for size in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes takes whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or sizes[0] < 2 or args.requests < 1 or args.repeats < 1:
        parser.error("--sizes must be at least 2, --requests and --repeats at least 1")
    rows = []
    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        with app.app_context():
            users.create_user(EMAIL, PASSWORD, Role.STAFF)
            db.session.commit()
        smallest: dict[str, float] = {}
        for size in sizes:
            with app.app_context():
                seed_customers(size)
                db.session.remove()
            with gunicorn(scratch) as port:
                cookie = sign_in(port)
                p50: dict[str, float] = {}
                for name, path in pages(size).items():
                    request = [("GET", path, b"", {"Cookie": cookie})]
                    warm = run_load(port, request * 5, 1)
                    if set(warm.statuses) != {200}:
                        raise RuntimeError(f"{path} answered {warm.statuses}")
                    found = [
                        run_load(port, request * args.requests, 1) for _ in range(args.repeats)
                    ]
                    p50[name] = statistics.median(r.p50_ms for r in found)
            smallest = smallest or p50
            rows.append(
                [scratch.label, f"{size:,}"]
                + [f"{ms:.1f} ({ms / smallest[name]:.2f}x)" for name, ms in p50.items()]
            )
    print(
        f"\nGET /customers..., one connection, p50 ms (median of {args.repeats} x "
        f"{args.requests} requests); in brackets, over the smallest size"
    )
    print_table(["database", "customers", *pages(2)], rows)


if __name__ == "__main__":
    main()
