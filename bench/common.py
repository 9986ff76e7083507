"""Shared by the bench scripts: scratch databases, bulk seeding, the real server, signing."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from dashboard import MIGRATIONS_DIR, PROJECT_ROOT, create_app
from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import Order

WEBHOOK_SECRET = "whsec_bench"  # noqa: S105 - a scratch server's, never a real one
STRIPE_SECRET_KEY = "sk_test_bench"  # noqa: S105 - no API call is made with it
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1/postgres"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1/bench"


@dataclass(frozen=True)
class Scratch:
    """One benchmark database and the instance folder the server uses with it."""

    label: str
    url: str
    instance: str


def scratch_databases(which: str, pg_url: str) -> list[Scratch]:
    """Fresh, empty databases: `sqlite`, `postgresql` or `both`."""
    found = []
    if which in ("sqlite", "both"):
        folder = tempfile.mkdtemp(prefix="bench-sqlite-")
        found.append(Scratch("sqlite", f"sqlite:///{folder}/bench.sqlite", folder))
    if which in ("postgresql", "both"):
        name = pg_url.rsplit("/", 1)[1]
        if name in ("test", "postgres"):
            raise SystemExit(f"refusing to drop database {name!r}")
        for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
            subprocess.run(  # noqa: S603
                ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c", sql],  # noqa: S607
                check=True,
                stdout=subprocess.DEVNULL,
            )
        found.append(Scratch("postgresql", pg_url, tempfile.mkdtemp(prefix="bench-pg-")))
    return found


def bench_app(scratch: Scratch) -> Flask:
    """The app on this database, in this process (migrations, seeding, direct timings)."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch.url
            if scratch.url.startswith("sqlite")
            else scratch.url.replace("postgresql://", "postgresql+psycopg://", 1),
            "SECRET_KEY": "bench",
            "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRETS": [WEBHOOK_SECRET],
        },
        instance_path=scratch.instance,
    )


def argument_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every bench script takes: which databases, PostgreSQL's URL, repeats."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--databases", default="both", choices=("both", "sqlite", "postgresql"))
    parser.add_argument("--database-url", default=DEFAULT_PG_URL)
    parser.add_argument("--repeats", type=int, default=3)
    return parser


def migrated_app(scratch: Scratch) -> Flask:
    """The app on a scratch database brought to the latest migration."""
    app = bench_app(scratch)
    migrate(app)
    return app


def migrate(app: Flask) -> None:
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))


def seed_orders(target: int, *, with_payment_intent: bool = True, batch: int = 20_000) -> None:
    """Open orders up to `target` in all (bulk insert); order N's PaymentIntent is pi_benchN."""
    have = db.session.scalar(select(func.count()).select_from(Order)) or 0
    now = datetime.now(UTC)
    states = [s.value for s in OrderState]
    while have < target:
        n = min(batch, target - have)
        rows = [
            {
                "id": i + 1,
                "buyer_name": f"Buyer {i}",
                "buyer_email": f"buyer{i:07d}@example.com",
                "currency": "USD",
                "total_amount": 1000 + i % 5000,
                "state": OrderState.OPEN.value if with_payment_intent else states[i % len(states)],
                "created_at": now,
                "stripe_payment_intent_id": f"pi_bench{i + 1}" if with_payment_intent else None,
            }
            for i in range(have, have + n)
        ]
        db.session.execute(insert(Order), rows)
        db.session.commit()
        have += n
    if db.engine.dialect.name == "postgresql":
        # The identity sequence does not know about explicit ids; autovacuum would ANALYZE.
        db.session.execute(
            db.text("SELECT setval(pg_get_serial_sequence('orders', 'id'), max(id)) FROM orders")
        )
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def payment_intent_event(event_id: str, order_id: int, amount: int, kind: str) -> dict[str, Any]:
    """A payload-only event for seeded order `order_id`: applied without any API call."""
    created = int(time.time())
    status = (
        "requires_capture" if kind == "payment_intent.amount_capturable_updated" else "succeeded"
    )
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": created,
        "livemode": False,
        "type": kind,
        "data": {
            "object": {
                "id": f"pi_bench{order_id}",
                "object": "payment_intent",
                "amount": amount,
                "amount_capturable": amount if status == "requires_capture" else 0,
                "amount_received": amount if status == "succeeded" else 0,
                "currency": "usd",
                "status": status,
                "created": created,
                "livemode": False,
                "latest_charge": None,
                "metadata": {"order_id": str(order_id)},
            }
        },
    }


def order_amount(order_id: int) -> int:
    """What seed_orders gave order `order_id`."""
    return 1000 + (order_id - 1) % 5000


def signed(payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe would send: HMAC-SHA256 of "t.body" as `t=…,v1=…`."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={mac}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(scratch: Scratch) -> dict[str, str]:
    """The environment of the dashboard's processes on this scratch database."""
    env = {
        **os.environ,
        "DATABASE_URL": scratch.url,
        "INSTANCE_PATH": scratch.instance,
        "SECRET_KEY": "bench",
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    env.pop("STRIPE_API_BASE", None)
    return env


@contextlib.contextmanager
def gunicorn(scratch: Scratch, extra_env: dict[str, str] | None = None) -> Iterator[int]:
    """The production server (gunicorn.conf.py as shipped) serving bench.bench_app; its port."""
    port = free_port()
    env = {**server_env(scratch), "GUNICORN_BIND": f"127.0.0.1:{port}", **(extra_env or {})}
    log = open(Path(scratch.instance) / "gunicorn.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "bench.bench_app:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {log.name}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log.name}")
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, ready for docs/benchmarks.md."""
    print("| " + " | ".join(headers) + " |")
    print("| " + " | ".join("---" for _ in headers) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# -- signing in, as staff do ------------------------------------------------------------

EMAIL = "bench@example.com"
PASSWORD = "bench-password-1234"  # noqa: S105 - a scratch database's user


def sign_in(port: int) -> str:
    """A session cookie for the bench user, from the real sign-in form."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    page = conn.getresponse()
    html = page.read().decode()
    cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if match is None:
        raise RuntimeError("no CSRF token on /login")
    form = urllib.parse.urlencode(
        {"csrf_token": match.group(1), "email": EMAIL, "password": PASSWORD}
    )
    conn.request(
        "POST",
        "/login",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    answer = conn.getresponse()
    answer.read()
    if answer.status != 302:
        raise RuntimeError(f"sign-in answered {answer.status}")
    for name, value in answer.getheaders():
        if name.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";", 1)[0]
    raise RuntimeError("sign-in set no session cookie")
