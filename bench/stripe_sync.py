"""`flask stripe sync` reading 10,000 events from a local event list (a report, never a pass/fail).

    .venv/bin/python -m bench.stripe_sync [--databases both|sqlite|postgresql]
        [--events 10000] [--repeats 3] [--latency-ms 0] [--database-url URL]

A tiny HTTP server on 127.0.0.2 answers `GET /v1/events` as Stripe pages it (newest first;
`created[gte]`/`created[lt]`, `limit`, `starting_after`, `ending_before`). 127.0.0.2 is a
loopback address but not one of the sandbox's (`127.0.0.1`, `localhost`, `::1`), so the
gateway runs its real-Stripe code path (no localstripe compatibility mode): the sync walks
the list newest first to find the oldest event, then pages forward with `ending_before`,
exactly as against Stripe. Each event authorizes its own seeded order, so every one is
stored, reconciled and put on a timeline. Each repetition uses a fresh database; the time
is the whole `flask stripe sync` process, start-up included. `--latency-ms` makes each
answer of the list wait that long, as Stripe's do over the network (a local list answers
at once).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    STRIPE_SECRET_KEY,
    argument_parser,
    migrated_app,
    order_amount,
    payment_intent_event,
    print_table,
    scratch_databases,
    seed_orders,
)
from dashboard import PROJECT_ROOT
from dashboard.extensions import db
from dashboard.models import StripeEvent

HOST = "127.0.0.2"


def event_list(count: int) -> list[dict[str, Any]]:
    """Newest first, one per second over the last `count` seconds."""
    now = int(time.time())
    events = []
    for i in range(count):
        event = payment_intent_event(
            f"evt_sync{i + 1:06d}",
            i + 1,
            order_amount(i + 1),
            "payment_intent.amount_capturable_updated",
        )
        event["created"] = now - count + i
        events.append(event)
    return events[::-1]


def serve(events: list[dict[str, Any]], latency: float = 0.0) -> ThreadingHTTPServer:
    """The event list on a local port; each answer waits `latency` seconds first (Stripe's
    own answer time over the network, which a local list does not have)."""
    position = {event["id"]: i for i, event in enumerate(events)}

    class EventList(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(latency)
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            limit = int(query.get("limit", "10"))
            low = int(query.get("created[gte]", "0"))
            high = int(query.get("created[lt]", str(2**62)))
            chosen = [i for i in range(len(events)) if low <= events[i]["created"] < high]
            if "starting_after" in query:
                after = position[query["starting_after"]]
                chosen = [i for i in chosen if i > after]
                page, more = chosen[:limit], len(chosen) > limit
            elif "ending_before" in query:
                before = position[query["ending_before"]]
                chosen = [i for i in chosen if i < before]
                page, more = chosen[-limit:], len(chosen) > limit
            else:
                page, more = chosen[:limit], len(chosen) > limit
            body = json.dumps(
                {
                    "object": "list",
                    "url": "/v1/events",
                    "has_more": more,
                    "data": [events[i] for i in page],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), EventList)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="how long each page of the list takes to answer (Stripe's, over the network)",
    )
    args = parser.parse_args()
    if args.latency_ms < 0:
        parser.error("--latency-ms cannot be negative")
    server = serve(event_list(args.events), args.latency_ms / 1000)
    base = f"http://{HOST}:{server.server_address[1]}"
    rows = []
    for label in ("sqlite", "postgresql") if args.databases == "both" else (args.databases,):
        times = []
        stored = 0
        for _ in range(args.repeats):
            scratch = scratch_databases(label, args.database_url)[0]
            app = migrated_app(scratch)
            with app.app_context():
                seed_orders(args.events)
            env = {
                **os.environ,
                "DATABASE_URL": scratch.url,
                "INSTANCE_PATH": scratch.instance,
                "SECRET_KEY": "bench",
                "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
                "STRIPE_API_BASE": base,
                "LOG_LEVEL": "WARNING",
            }
            flask = str(Path(sys.executable).parent / "flask")
            start = time.perf_counter()
            done = subprocess.run(  # noqa: S603
                [flask, "--app", "wsgi", "stripe", "sync"],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise RuntimeError(f"flask stripe sync failed:\n{done.stdout}\n{done.stderr}")
            with app.app_context():
                stored = (
                    db.session.scalar(
                        select(func.count())
                        .select_from(StripeEvent)
                        .where(StripeEvent.status == "applied")
                    )
                    or 0
                )
        seconds = statistics.median(times)
        rows.append([label, f"{stored:,}", f"{seconds:.1f}", f"{args.events / seconds:,.0f}"])
    server.shutdown()
    print(
        f"\nflask stripe sync, {args.events:,} events, each page of the list answered after "
        f"{args.latency_ms:g} ms, median of {args.repeats} runs"
    )
    print_table(["database", "events applied", "seconds", "events/s"], rows)


if __name__ == "__main__":
    main()
