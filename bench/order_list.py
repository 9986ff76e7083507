"""The order list at growing table sizes, through the real server (a report, never a pass/fail).

    .venv/bin/python -m bench.order_list [--databases both|sqlite|postgresql]
        [--sizes 10000,100000,1000000] [--requests 50] [--repeats 3] [--database-url URL]

For each database: a fresh scratch database, bulk-seeded with orders in every state up to
each size in turn (`seed_list_orders`: one multi-row insert per 20,000; on PostgreSQL then
ANALYZE, as autovacuum would have by then). Each buyer has three orders in a row, a first
name of 50 and a made-up surname; orders are 30 seconds apart (a day holds 2,880) and
each has a PaymentIntent id as random as Stripe's. gunicorn (gunicorn.conf.py) serves it;
a separate process signs in once through the real form and fetches, one request at a
time: the first page (with the capture queue above it), a state filter, a search by email
prefix, a deep page (the keyset cursor halfway down), a buyer's name (the first name and
the start of the surname), one common first name alone (1 order in 50 has it: its matches
grow with the table), the start of a PaymentIntent id, and one created day. The searched
order is the one halfway down. Prints the median p50 over the repetitions, and each
size's time over the smallest size's.
"""

from __future__ import annotations

import hashlib
import string
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import func, insert, select

from bench.common import (
    argument_parser,
    print_table,
)
from bench.list_sizes import add_size_arguments, page_p50s, parse_sizes
from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import Order

# One name of 50 per buyer, spelt as people are (accents included).
FIRST_NAMES = (  # noqa: SIM905 - a list of words is easier to read as words
    "Ada Alan Amara Anton Beatriz Bruno Chiara Dmitri Elif Émile Farah Felix Grace Hana "
    "Ines Ivan Jamal Jonas Kaito Karin Lars Leila Lucía Malik Marta Mateo Nadia Noor Olga "
    "Omar Paula Pedro Priya Quentin Rosa Rahul Sara Soren Tariq Teresa Umar Vera Viktor "
    "Wen Xavier Yara Yusuf Zoë Zeynep Björn"
).split()
SYLLABLES = "ka lo mi re nu sa ti vo be da fe gi ho ju ly ma ne po qu ri".split()  # noqa: SIM905
BASE62 = string.digits + string.ascii_letters
START = datetime(2025, 1, 1, tzinfo=UTC)
APART = timedelta(seconds=30)


def buyer_name(order_id: int) -> str:
    """Three orders in a row per buyer: a first name of 50, a surname of 3.2 million."""
    buyer = (order_id - 1) // 3
    digest = hashlib.sha256(f"buyer{buyer}".encode()).digest()
    surname = "".join(SYLLABLES[byte % len(SYLLABLES)] for byte in digest[:5])
    return f"{FIRST_NAMES[buyer % len(FIRST_NAMES)]} {surname.capitalize()}"


def payment_intent_id(order_id: int) -> str:
    """pi_3 and 24 characters as random as Stripe's, the same for the same order."""
    digest = int.from_bytes(hashlib.sha256(f"pi{order_id}".encode()).digest(), "big")
    return "pi_3" + "".join(BASE62[digest // 62**n % 62] for n in range(24))


def created_at(order_id: int) -> datetime:
    return START + APART * order_id


def seed_list_orders(target: int, batch: int = 20_000) -> None:
    """Orders up to `target` in all (bulk insert), every state in turn."""
    have = db.session.scalar(select(func.count()).select_from(Order)) or 0
    states = [s.value for s in OrderState]
    while have < target:
        rows = [
            {
                "id": i,
                "buyer_name": buyer_name(i),
                "buyer_email": f"buyer{i - 1:07d}@example.com",
                "currency": "USD",
                "total_amount": 1000 + i % 5000,
                "state": states[i % len(states)],
                "created_at": created_at(i),
                "stripe_payment_intent_id": payment_intent_id(i),
            }
            for i in range(have + 1, min(target, have + batch) + 1)
        ]
        db.session.execute(insert(Order), rows)
        db.session.commit()
        have += len(rows)
    if db.engine.dialect.name == "postgresql":
        # The identity sequence does not know about explicit ids; autovacuum would ANALYZE.
        db.session.execute(
            db.text("SELECT setval(pg_get_serial_sequence('orders', 'id'), max(id)) FROM orders")
        )
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def pages(size: int) -> dict[str, str]:
    middle = max(size // 2, 1)
    first, surname = buyer_name(middle).split()
    day = created_at(middle).date().isoformat()
    return {
        "first page": "/orders",
        "by state": "/orders?state=captured",
        "email": "/orders?q=buyer00042",
        "deep page": f"/orders?older_than={middle}",
        "name": "/orders?" + urlencode({"q": f"{first.lower()} {surname[:6].lower()}"}),
        "common name": "/orders?" + urlencode({"q": first}),
        "stripe id start": "/orders?" + urlencode({"q": payment_intent_id(middle)[:10]}),
        "created day": "/orders?" + urlencode({"created_from": day, "created_to": day}),
    }


def main() -> None:
    parser = argument_parser(__doc__)
    add_size_arguments(parser, "10000,100000,1000000")
    args = parser.parse_args()
    sizes = parse_sizes(parser, args, minimum=2)
    rows = page_p50s(args, sizes, seed_list_orders, pages)
    print(
        f"\nGET /orders..., one connection, p50 ms (median of {args.repeats} x {args.requests} "
        "requests); in brackets, over the smallest size"
    )
    print_table(["database", "orders", *pages(2)], rows)


if __name__ == "__main__":
    main()
