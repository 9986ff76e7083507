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

from urllib.parse import urlencode

from sqlalchemy import func, insert, select

from bench.common import (
    argument_parser,
    print_table,
)
from bench.list_sizes import add_size_arguments, page_p50s, parse_sizes
from bench.order_list import buyer_name, created_at
from dashboard.extensions import db
from dashboard.models import Customer


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
    add_size_arguments(parser, "10000,100000,1000000")
    args = parser.parse_args()
    sizes = parse_sizes(parser, args, minimum=2)
    rows = page_p50s(args, sizes, seed_customers, pages)
    print(
        f"\nGET /customers..., one connection, p50 ms (median of {args.repeats} x "
        f"{args.requests} requests); in brackets, over the smallest size"
    )
    print_table(["database", "customers", *pages(2)], rows)


if __name__ == "__main__":
    main()
