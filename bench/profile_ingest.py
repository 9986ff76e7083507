"""Where a webhook delivery's time goes, in-process (a profiling aid, not a benchmark).

    .venv/bin/python -m bench.profile_ingest [--databases sqlite|postgresql] [--events 2000]
        [--profile [--all]] [--pages 1,4,16,100] [--database-url URL]

Posts signed events through Flask's test client (no server, no sockets) to the bare route,
the naive handler and the real endpoint, and prints the mean milliseconds per request of
each, in one run. With `--profile`, the real endpoint's run (new events, then the same
events again) is recorded by pyinstrument (`.venv/bin/pip install -e '.[profile]'`) and
its call tree printed; `--all` shows library frames too. `--pages` then also times
`store.receive_page` directly at those page sizes: milliseconds per event,
committed a page at a time (what group commit and the sync share per page).
"""

from __future__ import annotations

import time

from flask.testing import FlaskClient

from bench.common import (
    argument_parser,
    migrated_app,
    order_amount,
    payment_intent_event,
    scratch_databases,
    seed_orders,
    signed,
)
from dashboard.extensions import db
from dashboard.services.inbox import store


def post(client: FlaskClient, path: str, start: int, count: int) -> float:
    """Mean milliseconds per request of `count` events for orders `start`, `start` + 1, …"""
    bodies = []
    for order_id in range(start, start + count):
        event = payment_intent_event(
            f"evt_{path.strip('/').replace('/', '_')}{order_id}",
            order_id,
            order_amount(order_id),
            "payment_intent.amount_capturable_updated",
        )
        bodies.append(signed(event))
    began = time.perf_counter()
    for body, headers in bodies:
        answer = client.post(path, data=body, headers=headers)
        if answer.status_code >= 300:
            raise SystemExit(f"{path}: {answer.status_code} {answer.get_data()!r}")
    return (time.perf_counter() - began) * 1000 / count


def per_event_in_pages(first_order: int, count: int, size: int) -> float:
    """Mean milliseconds per event of `count` new events received `size` at a time."""
    events = [
        payment_intent_event(
            f"evt_page{size}_{order_id}",
            order_id,
            order_amount(order_id),
            "payment_intent.amount_capturable_updated",
        )
        for order_id in range(first_order, first_order + count)
    ]
    began = time.perf_counter()
    for start in range(0, count, size):
        store.receive_page(events[start : start + size], source="webhook")
        db.session.commit()
    return (time.perf_counter() - began) * 1000 / count


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--pages", default="", help="page sizes, e.g. 1,4,16,100")
    args = parser.parse_args()
    try:
        sizes = [int(size) for size in args.pages.split(",") if size.strip()]
    except ValueError:
        parser.error(f"--pages takes whole numbers separated by commas, not {args.pages!r}")
    if any(size < 1 for size in sizes) or args.events < 1:
        parser.error("--pages sizes and --events must be at least 1")
    from bench.bench_app import bp  # the benchmark routes, added to each scratch app

    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        app.register_blueprint(bp)
        with app.app_context():
            seed_orders(args.events + 50 + args.events * len(sizes))
        client = app.test_client()
        post(client, "/webhooks/stripe", 1, 50)  # warm-up: compiled statements, imports
        bare = post(client, "/bench/bare", 1, args.events)
        naive = post(client, "/bench/naive", 1, args.events)
        profiler = None
        if args.profile:
            try:
                from pyinstrument import Profiler
            except ImportError:
                raise SystemExit(
                    "--profile needs pyinstrument: .venv/bin/pip install -e '.[profile]'"
                ) from None

            profiler = Profiler(interval=0.0005)
            profiler.start()
        ingest = post(client, "/webhooks/stripe", 51, args.events)
        duplicates = post(client, "/webhooks/stripe", 51, args.events)
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=args.all))
        print(
            f"{scratch.label}: ms per request: bare {bare:.2f}, naive {naive:.2f}, "
            f"ingest {ingest:.2f}, duplicates {duplicates:.2f}"
        )
        with app.app_context():
            first = args.events + 51
            for size in sizes:
                ms = per_event_in_pages(first, args.events, size)
                first += args.events
                print(f"{scratch.label}: pages of {size}: {ms:.2f} ms per event")


if __name__ == "__main__":
    main()
