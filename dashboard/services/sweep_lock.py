"""One sweep at a time, across hosts: `flask stripe sync` and `sweep-holds` run under cron.

PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) taken on a connection of
its own, so the sweep's many commits never release it, and discarded afterwards: closing
the connection is what releases the lock, also when the process dies mid-sweep. (Behind a
transaction-pooling proxy such as PgBouncer, point the sweeps at PostgreSQL directly.)

SQLite: the database is a file on one machine, so the hosts that can run a sweep are the
processes of that machine; an exclusive `flock` on a file in the instance folder keeps two
of them (an overlapping cron run, a person at the terminal) apart. The kernel drops the
lock with the process, so a crashed sweep leaves nothing stale behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from sqlalchemy import text

from dashboard.extensions import db

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for a sweep: stable across hosts and Python runs."""
    digest = hashlib.sha256(f"dashboard:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def sweep_lock(name: str) -> Iterator[bool]:
    """Yield True while this process holds the sweep's lock, False if another one has it."""
    if db.engine.dialect.name == "postgresql":
        with _advisory_lock(name) as held:
            yield held
    else:
        with _file_lock(Path(current_app.instance_path) / f"{name}.lock") as held:
            yield held


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    connection = db.engine.connect()
    key = {"key": lock_key(name)}
    held = False
    try:
        held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar())
        # The lock belongs to the session, not the transaction: ending the transaction keeps
        # the connection from idling in one (and being cut by idle_in_transaction timeouts).
        connection.commit()
        yield held
    finally:
        if held:
            # Released before the answer comes back: closing the connection releases it too,
            # but only once the server has noticed, so a sweep started right after this
            # one could find it still taken and do nothing.
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                connection.commit()
            except Exception as error:  # a broken connection: closing it releases the lock
                log.info("sweep lock %s: released by closing its connection (%s)", name, error)
        # Never back to the pool still holding the lock: closing the connection releases it.
        connection.invalidate()
        connection.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
