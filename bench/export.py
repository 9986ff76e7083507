"""The orders export at a million rows: rows per second and peak memory (a report, never a
pass/fail). Target: at least 50,000 rows/s, peak memory under 200 MB.

    .venv/bin/python -m bench.export [--orders 1000000] [--repeats 3] [--database-url URL]
        [--databases postgresql|sqlite|both]

A fresh scratch database (PostgreSQL by default), `--orders` orders bulk-inserted (30
seconds apart, every state, a name with a comma and an accent, a PaymentIntent id), then
`flask export orders --out FILE` run as its own process, as a person would: rows/s is rows
over its wall time (start-up included), and over its wall time less start-up's; peak
memory is its maximum resident set (from the kernel's accounting of the finished child,
wait4). Also the export of one day (2,880 orders), and a baseline: the same process
started with `--help` (what start-up alone costs in time and memory).

On PostgreSQL the export is written by COPY (services/export_copy.py); `--compare-python`
also times, in this process and in the same run, the whole export through COPY and through
the Python path SQLite uses (the ratio is the figure to read on a loaded machine).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from bench.common import argument_parser, migrated_app, print_table, scratch_databases
from dashboard.domain.days import Instants
from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import Order
from dashboard.services import exports
from dashboard.services.exports import Export, ExportKind

START = datetime(2025, 1, 1, tzinfo=UTC)


def seed(target: int, batch: int = 50_000) -> None:
    """Orders up to `target`, bulk-inserted; on PostgreSQL with generate_series."""
    have = db.session.scalar(select(func.count()).select_from(Order)) or 0
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            db.text(
                "INSERT INTO orders (buyer_name, buyer_email, currency, total_amount, state,"
                " created_at, amount_authorized, amount_captured, amount_refunded,"
                " stripe_payment_intent_id) SELECT 'Zoë Lovelace, ' || g,"
                " 'buyer' || g || '@example.com', (ARRAY['USD','EUR','JPY'])[1 + g % 3],"
                " 1000 + g % 5000, (ARRAY['open','authorized','captured','refunded','voided'])"
                "[1 + g % 5], CAST(:start AS timestamptz) + make_interval(secs => g * 30),"
                " 1000 + g % 5000, 1000 + g % 5000, 0, 'pi_3bench' || g"
                " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) g"
            ),
            {"start": START, "first": have + 1, "last": target},
        )
    else:
        states = [s.value for s in OrderState]
        while have < target:
            n = min(batch, target - have)
            db.session.execute(
                insert(Order),
                [
                    {
                        "buyer_name": f"Zoë Lovelace, {i}",
                        "buyer_email": f"buyer{i}@example.com",
                        "currency": ("USD", "EUR", "JPY")[i % 3],
                        "total_amount": 1000 + i % 5000,
                        "state": states[i % len(states)],
                        "created_at": datetime.fromtimestamp(START.timestamp() + i * 30, UTC),
                        "stripe_payment_intent_id": f"pi_3bench{i}",
                    }
                    for i in range(have + 1, have + n + 1)
                ],
            )
            have += n
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE orders"))
        db.session.commit()


def run_export(url: str, instance: str, args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one `flask export` process."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "INSTANCE_PATH": instance,
        "SECRET_KEY": "bench",
    }
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "wsgi", "export", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"flask export {args} exited {child.returncode}")
    return wall, usage.ru_maxrss / 1024  # KB on Linux


def in_process(python: bool) -> tuple[float, int]:
    """Seconds to produce the whole orders export in this process, and its characters."""
    export = Export(ExportKind.ORDERS, Instants(None, None))
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in exports.csv_chunks(export, python=python))
    return time.perf_counter() - started, size


def main() -> None:
    parser = argument_parser(__doc__)
    parser.set_defaults(databases="postgresql")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--compare-python", action="store_true")
    args = parser.parse_args()
    if args.orders < 3000 or args.repeats < 1:
        parser.error("--orders must be at least 3000, --repeats at least 1")
    rows = []
    sizes: set[int] = set()
    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        with app.app_context():
            seed(args.orders)
            if args.compare_python and db.engine.dialect.name == "postgresql":
                for python in (False, True):
                    wall, size = in_process(python)
                    db.session.rollback()
                    name = "in-process, " + ("Python path" if python else "COPY")
                    rate = f"{args.orders / wall:,.0f}"
                    rows.append(
                        [scratch.label, name, f"{args.orders:,}", f"{wall:.2f}", rate, rate, "-"]
                    )
                    sizes.add(size)
                if len(sizes) != 1:
                    raise RuntimeError(f"COPY and Python wrote different sizes: {sizes}")
            db.session.remove()
            db.engine.dispose()
        out = os.path.join(tempfile.mkdtemp(prefix="bench-export-"), "orders.csv")
        day = datetime.fromtimestamp(START.timestamp() + args.orders // 2 * 30, UTC).date()
        cases = {
            "start-up only (--help)": (["--help"], 0),
            "one day": (["orders", "--from", str(day), "--to", str(day), "--out", out], 2880),
            "all orders": (["orders", "--out", out], args.orders),
        }
        start_up = 0.0
        for name, (cli, count) in cases.items():
            runs = [run_export(scratch.url, scratch.instance, cli) for _ in range(args.repeats)]
            wall = statistics.median(w for w, _ in runs)
            peak = max(m for _, m in runs)
            if not count:
                start_up = wall
            rate = f"{count / wall:,.0f}" if count else "-"
            net = f"{count / max(wall - start_up, 1e-3):,.0f}" if count else "-"
            rows.append(
                [scratch.label, name, f"{count:,}", f"{wall:.2f}", rate, net, f"{peak:.0f}"]
            )
        lines = sum(1 for _ in open(out, encoding="utf-8"))  # noqa: SIM115
        if lines != args.orders + 1:
            raise RuntimeError(f"the export has {lines} lines, not {args.orders + 1}")
        os.remove(out)
    print(f"\nflask export, its own process, median wall time of {args.repeats}; peak RSS")
    headers = ["database", "export", "rows", "seconds", "rows/s", "rows/s after start-up"]
    print_table([*headers, "peak MB"], rows)


if __name__ == "__main__":
    main()
