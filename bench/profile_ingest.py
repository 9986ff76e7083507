"""Where a webhook delivery's time goes, in-process (a profiling aid, not a benchmark).

    .venv/bin/python -m bench.profile_ingest [--databases sqlite|postgresql] [--events 2000]
        [--profile [--all]] [--database-url URL]

Posts signed events through Flask's test client (no server, no sockets) to the bare route,
the naive handler and the real endpoint, and prints the mean milliseconds per request of
each, in one run. With `--profile`, the real endpoint's run (new events, then the same
events again) is recorded by pyinstrument (`pip install pyinstrument`) and its call tree
printed; `--all` shows library frames too.
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


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args()
    from bench.bench_app import bp  # the benchmark routes, added to each scratch app

    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        app.register_blueprint(bp)
        with app.app_context():
            seed_orders(args.events + 50)
        client = app.test_client()
        post(client, "/webhooks/stripe", 1, 50)  # warm-up: compiled statements, imports
        bare = post(client, "/bench/bare", 1, args.events)
        naive = post(client, "/bench/naive", 1, args.events)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

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


if __name__ == "__main__":
    main()
