"""What the list benches share (order list, customers, disputes, event log, Home): the sizes
a run takes, and each page's p50 at each size, one database after another, each size
seeded on top of the last, a staff user signed in to a gunicorn on the scratch database."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

from bench.common import (
    EMAIL,
    PASSWORD,
    gunicorn,
    migrated_app,
    scratch_databases,
    sign_in,
)
from bench.loadgen import run_load
from dashboard.extensions import db
from dashboard.models import Role
from dashboard.services import users


def add_size_arguments(parser: argparse.ArgumentParser, sizes: str) -> None:
    parser.add_argument("--sizes", default=sizes)
    parser.add_argument("--requests", type=int, default=50)


def parse_sizes(
    parser: argparse.ArgumentParser, args: argparse.Namespace, minimum: int
) -> list[int]:
    try:
        sizes = sorted(int(size) for size in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes takes whole numbers separated by commas, not {args.sizes!r}")
    if not sizes or sizes[0] < minimum or args.requests < 1 or args.repeats < 1:
        parser.error(f"--sizes must be at least {minimum}, --requests and --repeats at least 1")
    return sizes


def page_p50s(
    args: argparse.Namespace,
    sizes: list[int],
    seed: Callable[[int], None],
    pages: Callable[[int], dict[str, str]],
) -> list[list[str]]:
    """A row per database and size: each page's p50 in ms, and in brackets its ratio over
    the smallest size."""
    rows = []
    for scratch in scratch_databases(args.databases, args.database_url):
        app = migrated_app(scratch)
        with app.app_context():
            users.create_user(EMAIL, PASSWORD, Role.STAFF)
            db.session.commit()
        smallest: dict[str, float] = {}
        for size in sizes:
            with app.app_context():
                seed(size)
                db.session.remove()
            with gunicorn(scratch) as port:
                cookie = sign_in(port)
                p50: dict[str, float] = {}
                for name, path in pages(size).items():
                    request = [("GET", path, b"", {"Cookie": cookie})]
                    warm = run_load(port, request * 5, 1)
                    if set(warm.statuses) != {200}:
                        raise RuntimeError(f"{path} answered {warm.statuses}")
                    found = [
                        run_load(port, request * args.requests, 1) for _ in range(args.repeats)
                    ]
                    p50[name] = statistics.median(r.p50_ms for r in found)
            smallest = smallest or p50
            rows.append(
                [scratch.label, f"{size:,}"]
                + [f"{ms:.1f} ({ms / smallest[name]:.2f}x)" for name, ms in p50.items()]
            )
    return rows
