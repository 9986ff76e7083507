"""gunicorn, as production runs it (gunicorn.conf.py), serving tests/chaos/chaos_app.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.app import free_port
from tests.support.gunicorn import gunicorn_running

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKERS = 4
THREADS = 8


def chaos_environment(
    database_url: str, webhook_secret: str, stripe_api: str, instance: Path
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "chaos-secret-key-not-for-production",
        "STRIPE_SECRET_KEY": "sk_test_chaos",
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "STRIPE_API_BASE": "",
        "CHAOS_STRIPE_API": stripe_api,
        "INSTANCE_PATH": str(instance),
        "PYTHONPATH": str(ROOT),
    }


@contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[str]:
    """The server on a free loopback port until the block ends; its log goes to `log`."""
    port = free_port()
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": str(THREADS),
        "LOG_LEVEL": "warning",
    }
    with gunicorn_running(
        ["--access-logfile", "/dev/null", "tests.chaos.chaos_app:app"], env, log
    ) as url:
        yield url


def sweep_holds(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One `flask stripe sweep-holds`, as cron runs it, over every open order."""
    return subprocess.run(
        [
            str(BIN / "flask"),
            "--app",
            "tests.chaos.chaos_app",
            "stripe",
            "sweep-holds",
            "--older-than",
            "0s",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
