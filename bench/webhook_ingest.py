"""Webhook ingest throughput against the real server (a report, never a pass/fail).

    .venv/bin/python -m bench.webhook_ingest [--databases both|sqlite|postgresql]
        [--requests 1500] [--repeats 3] [--concurrency 16] [--applier process|worker]
        [--database-url URL]

For each database: a fresh scratch database, migrated, seeded with one open order per
event to send; gunicorn with gunicorn.conf.py serving `bench.bench_app`; a separate
load-generator process on loopback. Each repetition runs, in turn: the bare 204 route,
the naive handler (verify, parse, one insert), the real endpoint with unique events that
each move their order (verify, store, dedupe, reconcile, timeline), and the real endpoint
with duplicates only (events already stored). Prints medians over the repetitions.

The endpoint answers once an event is stored, and it is applied right after: by
`flask stripe apply --follow`, a process of its own beside gunicorn, with the workers'
applier threads off (`--applier process`, the default, as docs/webhooks.md advises at
volume), or by each worker's applier thread (`--applier worker`, the embedded default).
While the unique events are sent, a thread samples the backlog (events stored, not yet
applied) every 0.2 s; after the load the script waits for the backlog to be empty, and
reports the largest backlog, the time it took to empty after the last answer and the
apply rate (events / time from the first request to the last event applied).
`--soak N` then sends N more unique events in one run (about a minute at full speed) and
prints the backlog every 10 s, to show whether it grows.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, func, select, text

from bench.common import (
    Scratch,
    argument_parser,
    gunicorn,
    migrated_app,
    order_amount,
    payment_intent_event,
    print_table,
    scratch_databases,
    seed_orders,
    server_env,
    signed,
)
from bench.loadgen import LoadResult, Request, run_load
from dashboard import PROJECT_ROOT
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


@dataclass
class Backlog:
    """The inbox's pending events, sampled in a thread while a load runs."""

    url: str
    every: float = 0.2
    samples: list[tuple[float, int]] = field(default_factory=list)
    drain_seconds: float = 0.0

    def __post_init__(self) -> None:
        url = self.url.replace("postgresql://", "postgresql+psycopg://", 1)
        self._engine = create_engine(url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def pending(self) -> int:
        with self._engine.connect() as connection:
            query = "SELECT count(*) FROM stripe_events WHERE status = 'pending'"
            return int(connection.execute(text(query)).scalar_one())

    def _sample(self) -> None:
        start = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - start, self.pending()))
            self._stop.wait(self.every)

    def __enter__(self) -> Backlog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """The load is over: wait (at most 5 minutes) for the backlog to empty."""
        ended = time.perf_counter()
        deadline = ended + 300
        while self.pending() and time.perf_counter() < deadline:
            time.sleep(0.05)
        self.drain_seconds = time.perf_counter() - ended
        self._stop.set()
        self._thread.join()
        self._engine.dispose()

    @property
    def largest(self) -> int:
        return max((n for _, n in self.samples), default=0)


def transactions_that_wrote(url: str, event_ids: list[str]) -> int | None:
    """How many transactions last wrote these inbox rows (PostgreSQL's `xmin`; None on
    SQLite). A new event's row is last written by the applier's page that applied it; a
    redelivery's by the group commit that counted it."""
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


@contextlib.contextmanager
def applier_process(scratch: Scratch, which: str) -> Iterator[None]:
    """`flask stripe apply --follow` beside gunicorn for `--applier process` (stopped as a
    service manager stops it, and it must stop cleanly); nothing for `worker`."""
    if which != "process":
        yield
        return
    log = open(Path(scratch.instance) / "applier.log", "ab")  # noqa: SIM115
    flask = str(Path(sys.executable).parent / "flask")
    follower = subprocess.Popen(  # noqa: S603
        [flask, "--app", "wsgi", "stripe", "apply", "--follow"],
        cwd=PROJECT_ROOT,
        env={**server_env(scratch), "WEBHOOK_APPLY_IN_BACKGROUND": "0"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        follower.send_signal(signal.SIGTERM)
        code = follower.wait(timeout=60)
        log.close()
        if code != 0:
            raise RuntimeError(f"flask stripe apply --follow exited {code}; see {log.name}")


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--soak", type=int, default=0, help="unique events in one long run")
    parser.add_argument(
        "--applier",
        choices=("process", "worker"),
        default="process",
        help="who applies the stored deliveries: `flask stripe apply --follow` beside "
        "gunicorn (default) or a thread in each worker",
    )
    args = parser.parse_args()
    rows = []
    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        with app.app_context():
            seed_orders(args.requests * args.repeats + args.soak)
        results: dict[str, list[LoadResult]] = {name: [] for name in SCENARIOS}
        per_commit: dict[str, list[float]] = {"ingest": [], "duplicates": []}
        backlogs: list[tuple[int, float, float]] = []  # largest, drain s, applied per s
        in_workers = "1" if args.applier == "worker" else "0"
        with (
            gunicorn(scratch, {"WEBHOOK_APPLY_IN_BACKGROUND": in_workers}) as port,
            applier_process(scratch, args.applier),
        ):
            run_load(port, requests_for("bare", 0, 500), args.concurrency)  # warm-up
            for rep in range(args.repeats):
                for scenario in SCENARIOS:
                    load = requests_for(scenario, rep, args.requests)
                    if scenario == "ingest":
                        with Backlog(scratch.url) as backlog:
                            result = run_load(port, load, args.concurrency)
                        rate = args.requests / (result.seconds + backlog.drain_seconds)
                        backlogs.append((backlog.largest, backlog.drain_seconds, rate))
                    else:
                        result = run_load(port, load, args.concurrency)
                    results[scenario].append(result)
                    if scenario in per_commit:
                        wrote = transactions_that_wrote(
                            scratch.url, event_ids(scenario, rep, args.requests)
                        )
                        if wrote:
                            per_commit[scenario].append(args.requests / wrote)
            if args.soak:
                soak(scratch, port, args)
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
            f"{args.requests * args.repeats + args.soak}; timeline entries {timeline}"
        )
        if per_commit["ingest"]:
            print(
                f"{scratch.label}: rows per transaction that last wrote them (median): "
                f"ingest {statistics.median(per_commit['ingest']):.2f} (the applier's pages), "
                f"duplicates {statistics.median(per_commit['duplicates']):.2f} (group commit)"
            )
        if backlogs:
            print(
                f"{scratch.label}: applying behind the answers, per repetition: largest "
                "backlog, seconds to empty it after the last answer, events applied per s: "
                + "; ".join(f"{n}, {d:.2f} s, {r:.0f}/s" for n, d, r in backlogs)
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
        f"{args.concurrency} connections; applied by "
        + ("`flask stripe apply --follow`" if args.applier == "process" else "each worker's thread")
    )
    print_table(
        ["database", "route", "req/s", "p50 ms", "p99 ms", "of bare", "vs naive"],
        rows,
    )


def soak(scratch: Scratch, port: int, args: argparse.Namespace) -> None:
    """One long run of unique events; the backlog every 10 s and what it took to apply."""
    first = args.requests * args.repeats
    load = []
    for order_id in range(first + 1, first + args.soak + 1):
        event = payment_intent_event(
            f"evt_soak{order_id}",
            order_id,
            order_amount(order_id),
            "payment_intent.amount_capturable_updated",
        )
        body, headers = signed(event)
        load.append(("POST", "/webhooks/stripe", body, headers))
    with Backlog(scratch.url, every=1.0) as backlog:
        result = run_load(port, load, args.concurrency)
    marks = [f"{t:.0f}s {n}" for t, n in backlog.samples if round(t) % 10 == 0]
    print(
        f"{scratch.label}: soak of {args.soak} events: {result.rps:.0f} req/s acknowledged "
        f"over {result.seconds:.1f} s (p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms); "
        f"backlog {', '.join(marks)}; largest {backlog.largest}; empty "
        f"{backlog.drain_seconds:.1f} s after the last answer; applied "
        f"{args.soak / (result.seconds + backlog.drain_seconds):.0f} events/s"
    )


if __name__ == "__main__":
    main()
