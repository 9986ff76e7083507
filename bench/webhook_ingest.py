"""Webhook ingest throughput against the real server (a report, never a pass/fail).

    .venv/bin/python -m bench.webhook_ingest [--databases both|sqlite|postgresql]
        [--requests 1500] [--repeats 3] [--concurrency 16] [--database-url URL]

For each database: a fresh scratch database, migrated, seeded with one open order per
event to send; gunicorn with gunicorn.conf.py serving `bench.bench_app`; a separate
load-generator process on loopback. Each repetition runs, in turn: the bare 204 route,
the naive handler (verify, parse, one insert), the real endpoint with unique events that
each move their order (verify, store, dedupe, reconcile, timeline), and the real endpoint
with duplicates only (events already stored). Prints medians over the repetitions.
"""

from __future__ import annotations

import statistics

import psycopg
from sqlalchemy import func, select

from bench.common import (
    argument_parser,
    gunicorn,
    migrated_app,
    order_amount,
    payment_intent_event,
    print_table,
    scratch_databases,
    seed_orders,
    signed,
)
from bench.loadgen import LoadResult, Request, run_load
from dashboard.extensions import db
from dashboard.models import StripeEvent, TimelineEntry

SCENARIOS = ("bare", "naive", "ingest", "duplicates")


def requests_for(scenario: str, rep: int, count: int) -> list[Request]:
    if scenario == "bare":
        return [("POST", "/bench/bare", b"{}", {"Content-Type": "application/json"})] * count
    out: list[Request] = []
    for i in range(count):
        # Ingest repetition `rep` moves orders rep*count+1 ...; duplicates resend repetition 0's.
        order_id = (0 if scenario == "duplicates" else rep) * count + i + 1
        prefix = "naive" if scenario == "naive" else "ingest"
        event = payment_intent_event(
            f"evt_{prefix}{order_id}",
            order_id,
            order_amount(order_id),
            "payment_intent.amount_capturable_updated",
        )
        body, headers = signed(event)
        path = "/bench/naive" if scenario == "naive" else "/webhooks/stripe"
        out.append(("POST", path, body, headers))
    return out


def transactions_that_wrote(url: str, event_ids: list[str]) -> int | None:
    """How many transactions last wrote these inbox rows (PostgreSQL's `xmin`; None on
    SQLite): with group commit, fewer than the deliveries."""
    if not url.startswith("postgresql"):
        return None
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(DISTINCT xmin::text) FROM stripe_events WHERE event_id = ANY(%s)",
            (event_ids,),
        ).fetchone()
    return int(row[0]) if row else None


def event_ids(scenario: str, rep: int, count: int) -> list[str]:
    first = (0 if scenario == "duplicates" else rep) * count + 1
    return [f"evt_ingest{order_id}" for order_id in range(first, first + count)]


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rows = []
    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        with app.app_context():
            seed_orders(args.requests * args.repeats)
        results: dict[str, list[LoadResult]] = {name: [] for name in SCENARIOS}
        per_commit: dict[str, list[float]] = {"ingest": [], "duplicates": []}
        with gunicorn(scratch) as port:
            run_load(port, requests_for("bare", 0, 500), args.concurrency)  # warm-up
            for rep in range(args.repeats):
                for scenario in SCENARIOS:
                    result = run_load(
                        port, requests_for(scenario, rep, args.requests), args.concurrency
                    )
                    results[scenario].append(result)
                    if scenario in per_commit:
                        wrote = transactions_that_wrote(
                            scratch.url, event_ids(scenario, rep, args.requests)
                        )
                        if wrote:
                            per_commit[scenario].append(args.requests / wrote)
        with app.app_context():
            applied = db.session.scalar(
                select(func.count())
                .select_from(StripeEvent)
                .where(StripeEvent.source == "webhook", StripeEvent.status == "applied")
            )
            timeline = db.session.scalar(select(func.count()).select_from(TimelineEntry))
        statuses = {
            name: sorted({s for r in found for s in r.statuses}) for name, found in results.items()
        }
        print(
            f"{scratch.label}: HTTP statuses {statuses}; events applied {applied} of "
            f"{args.requests * args.repeats}; timeline entries {timeline}"
        )
        if per_commit["ingest"]:
            print(
                f"{scratch.label}: deliveries per transaction (median; group commit): "
                + ", ".join(
                    f"{name} {statistics.median(found):.2f}" for name, found in per_commit.items()
                )
            )
        medians = {
            name: (
                statistics.median(r.rps for r in found),
                statistics.median(r.p50_ms for r in found),
                statistics.median(r.p99_ms for r in found),
            )
            for name, found in results.items()
        }
        for name in SCENARIOS:
            rps, p50, p99 = medians[name]
            rows.append(
                [scratch.label, name, f"{rps:.0f}", f"{p50:.1f}", f"{p99:.1f}"]
                + (
                    [
                        f"{rps / medians['bare'][0]:.0%}",
                        f"{rps / medians['naive'][0]:.2f}x",
                    ]
                    if name in ("ingest", "duplicates")
                    else ["", ""]
                )
            )
    print(
        f"\nmedian of {args.repeats} repetitions, {args.requests} requests each, "
        f"{args.concurrency} connections"
    )
    print_table(
        ["database", "route", "req/s", "p50 ms", "p99 ms", "of bare", "vs naive"],
        rows,
    )


if __name__ == "__main__":
    main()
