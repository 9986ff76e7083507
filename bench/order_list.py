"""The order list at growing table sizes, through the real server (a report, never a pass/fail).

    .venv/bin/python -m bench.order_list [--databases both|sqlite|postgresql]
        [--sizes 10000,100000,1000000] [--requests 50] [--repeats 3] [--database-url URL]

For each database: a fresh scratch database, bulk-seeded with orders in every state up to
each size in turn (`seed_orders`: one multi-row insert per 20,000; on PostgreSQL then
ANALYZE, as autovacuum would have by then). gunicorn (gunicorn.conf.py) serves it; a
separate process signs in once through the real form and fetches, one request at a time:
the first page (with the capture queue above it), a state filter, a search by email
prefix, and a deep page (the keyset cursor halfway down). Prints the median p50 over the
repetitions, and each size's time over the smallest size's.
"""

from __future__ import annotations

import statistics

from bench.common import (
    EMAIL,
    PASSWORD,
    argument_parser,
    gunicorn,
    migrated_app,
    print_table,
    scratch_databases,
    seed_orders,
    sign_in,
)
from bench.loadgen import run_load
from dashboard.extensions import db
from dashboard.models import Role
from dashboard.services import users


def pages(size: int) -> dict[str, str]:
    return {
        "first page": "/orders",
        "by state": "/orders?state=captured",
        "email": "/orders?q=buyer00042",
        "deep page": f"/orders?older_than={size // 2}",
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
                seed_orders(size, with_payment_intent=False)
                db.session.remove()
            with gunicorn(scratch) as port:
                cookie = sign_in(port)
                p50: dict[str, float] = {}
                for name, path in pages(size).items():
                    request = [("GET", path, b"", {"Cookie": cookie})]
                    warm = run_load(port, request * 5, 1)
                    if set(warm.statuses) != {200}:
                        raise RuntimeError(f"{path} answered {warm.statuses}")
                    load = request * args.requests
                    found = [run_load(port, load, 1) for _ in range(args.repeats)]
                    p50[name] = statistics.median(r.p50_ms for r in found)
            smallest = smallest or p50
            rows.append(
                [scratch.label, f"{size:,}"]
                + [f"{ms:.1f} ({ms / smallest[name]:.2f}x)" for name, ms in p50.items()]
            )
    print(
        f"\nGET /orders..., one connection, p50 ms (median of {args.repeats} x {args.requests} "
        "requests); in brackets, over the smallest size"
    )
    print_table(["database", "orders", *pages(2)], rows)


if __name__ == "__main__":
    main()
