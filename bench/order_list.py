"""Order-list query times at growing table sizes (a report, never a pass/fail).

    .venv/bin/python bench/order_list.py [--sizes 10000,100000,1000000] [--database-url URL]

Bulk-seeds orders into a scratch database (default: a temporary SQLite file), then times
the list page's queries through the real service: first page, a state filter, an email
prefix search and a deep page (keyset). Prints the median of several runs per query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

from dashboard import MIGRATIONS_DIR, create_app
from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import Order
from dashboard.services.orders import list_orders

STATES = [s.value for s in OrderState]
REPEATS = 15


def seed_to(target: int) -> None:
    have = db.session.scalar(select(func.count()).select_from(Order)) or 0
    now = datetime.now(UTC)
    batch = 20_000
    while have < target:
        n = min(batch, target - have)
        rows = [
            {
                "buyer_name": f"Buyer {i}",
                "buyer_email": f"buyer{i:07d}@example.com",
                "currency": "USD",
                "total_amount": 1000 + i % 5000,
                "state": STATES[i % len(STATES)],
                "created_at": now,
            }
            for i in range(have, have + n)
        ]
        db.session.execute(insert(Order), rows)
        db.session.commit()
        have += n


def median_ms(call: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    scratch = tempfile.mkdtemp(prefix="bench-orders-")
    url = args.database_url or f"sqlite:///{os.path.join(scratch, 'bench.sqlite')}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"}, instance_path=scratch)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        print(f"database: {db.engine.dialect.name}; median of {REPEATS} runs, milliseconds")
        print(f"{'orders':>10} {'first page':>11} {'by state':>9} {'email':>7} {'deep page':>10}")
        for size in sizes:
            seed_to(size)
            if db.engine.dialect.name == "postgresql":
                # Steady state: autovacuum would have analyzed a table this size by now.
                db.session.execute(text("ANALYZE orders"))
                db.session.commit()
            deep = size // 2
            row = [
                median_ms(lambda: list_orders()),
                median_ms(lambda: list_orders(state=OrderState.CAPTURED)),
                median_ms(lambda: list_orders(search="buyer00042")),
                median_ms(lambda deep=deep: list_orders(older_than=deep)),
            ]
            print(
                f"{size:>10,} "
                + " ".join(f"{v:>{w}.2f}" for v, w in zip(row, (11, 9, 7, 10), strict=True))
            )
            db.session.remove()


if __name__ == "__main__":
    main()
