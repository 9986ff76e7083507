"""`flask stripe apply --follow`: the applier as a process of its own beside the web
workers (WEBHOOK_APPLY_IN_BACKGROUND=0), run as a real `flask` process on the test
database, stopped as a service manager stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dashboard import PROJECT_ROOT
from dashboard.extensions import db
from tests.support.database import reload, stored_events
from tests.support.stripe import hold_event, send_event

WAIT = 20  # seconds: start-up of a flask process on a busy machine, and a few passes


class Follower:
    """`flask --app wsgi stripe apply --follow …` running, its output read by a thread."""

    def __init__(self, database_url: str, instance: Path, *args: str) -> None:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("STRIPE_", "DATABASE_", "WEBHOOK_"))
        }
        env.update(
            DATABASE_URL=database_url,
            INSTANCE_PATH=str(instance),
            SECRET_KEY="follow-test",  # a test process's, never a real one
            WEBHOOK_APPLY_IN_BACKGROUND="0",
            PYTHONUNBUFFERED="1",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "stripe", "apply", "--follow", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str) -> str:
        """The first line holding `text`, once it is printed."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if text in line), None)
            if found is not None:
                return found
            assert self.process.poll() is None, self.output
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never printed:\n{self.output}")

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=WAIT)
        self._close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        self._close()

    def _close(self) -> None:
        self._reader.join(WAIT)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def follower(app: Any, database_url: str, tmp_path: Path) -> Iterator[Any]:
    started: list[Follower] = []

    def start(*args: str) -> Follower:
        running = Follower(database_url, tmp_path / "follower-instance", *args)
        started.append(running)
        return running

    yield start
    for running in started:  # before the app fixture empties the tables it reads
        running.kill()


@pytest.fixture
def order_pair(make_order: Any) -> list[Any]:
    return [make_order(lines=None), make_order(lines=None)]


@pytest.fixture
def order(make_order: Any) -> Any:
    return make_order(lines=None)


def _applied(app: Any, event_id: str) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        row = next((r for r in stored_events(app) if r.event_id == event_id), None)
        if row is not None and row.status != "pending":
            return row
        time.sleep(0.05)
    raise AssertionError(f"{event_id} was never applied")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_follow_applies_deliveries_as_they_arrive_and_stops_when_asked(
    app, client, make_order, follower, signum
):
    first, second = make_order(lines=None), make_order(lines=None)
    # Stored before it starts: applied by its first pass.
    answer = send_event(client, hold_event(first.id, event_id="evt_before"), apply=False)
    assert answer.get_json()["status"] == "pending"

    running = follower("--interval", "0.05")
    assert running.wait_for("Applying") == (
        "Applying stored webhook deliveries as they arrive, in pages of 200 "
        "(after a page that is not full, every 0.05 s). SIGTERM or Ctrl-C stops.\n"
    )
    assert (_applied(app, "evt_before").status, reload(app, first.id).state) == (
        "applied",
        "authorized",
    )
    # Stored while it runs: it follows, it does not stop at the first empty page.
    send_event(
        client,
        hold_event(second.id, event_id="evt_after", payment_intent="pi_second"),
        apply=False,
    )
    row = _applied(app, "evt_after")
    assert (row.status, row.process_count) == ("applied", 1)
    assert reload(app, second.id).state == "authorized"

    assert running.stop(signum) == 0, running.output
    assert re.search(r"\nStopped\. Applied 2 stored events in \d+ pages?\.\n$", running.output), (
        running.output
    )


def test_follow_is_one_applier_among_others(app, client, order_pair, follower):
    """Beside the command run by hand (or a worker's thread): each event is applied once."""
    running = follower("--interval", "0.01", "--page", "1")
    running.wait_for("Applying")
    runner = app.test_cli_runner()
    for n, order in enumerate(order_pair):
        send_event(
            client,
            hold_event(order.id, event_id=f"evt_both_{n}", payment_intent=f"pi_both_{n}"),
            apply=False,
        )
        assert runner.invoke(args=["stripe", "apply"]).exit_code == 0
    rows = [_applied(app, f"evt_both_{n}") for n in range(2)]
    assert [(row.status, row.process_count) for row in rows] == [("applied", 1)] * 2
    assert running.stop(signal.SIGTERM) == 0, running.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--interval", "1"], "--interval goes with --follow."),
        (["--follow", "--interval", "0"], "0.01<=x<=60"),
        (["--follow", "--interval", "soon"], "'soon' is not a valid float"),
        (["--follow", "--page", "0"], "1<=x<=10000"),
    ],
)
def test_apply_refuses_what_it_cannot_use(app, client, order, args, says):
    send_event(client, hold_event(order.id, event_id="evt_refused"), apply=False)
    result = app.test_cli_runner().invoke(args=["stripe", "apply", *args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    (row,) = stored_events(app)
    assert row.status == "pending"  # nothing was applied


def test_follow_goes_on_after_a_pass_fails_and_loses_nothing(app, client, order, follower):
    """The database refuses its passes for a while (the inbox's table is gone): each
    failure is logged, the process stays up, and once the table is back what was stored
    meanwhile is applied, once."""
    running = follower("--interval", "0.05")
    running.wait_for("Applying")
    with app.app_context():
        db.session.execute(text("ALTER TABLE stripe_events RENAME TO stripe_events_away"))
        db.session.commit()
    try:
        running.wait_for("webhook applier: a pass failed; its events stay pending")
        assert running.process.poll() is None
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE stripe_events_away RENAME TO stripe_events"))
            db.session.commit()
    send_event(client, hold_event(order.id, event_id="evt_after_failure"), apply=False)
    row = _applied(app, "evt_after_failure")
    assert (row.status, row.process_count) == ("applied", 1)
    assert reload(app, order.id).state == "authorized"
    assert running.stop(signal.SIGTERM) == 0, running.output
