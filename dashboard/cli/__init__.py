"""`flask` commands, one module per group (users, outbox, sandbox, stripe, products,
agents, acp, overview), calling services only; every command commits through `committed`,
once, when it ends.

The `flask stripe` commands commit as they go as well (per page, per order, per event, in
the services' units of work), so an interrupted one loses nothing.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, ParamSpec, TypeVar

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from dashboard.transactions import unit_of_work

P = ParamSpec("P")
R = TypeVar("R")


def committed(callback: Callable[P, R]) -> Callable[P, R]:
    """Run a command in one unit of work: its writes are committed when it ends, also with a
    deliberate exit status (`sys.exit(3)`: done, but needs a person), and rolled back if it
    fails (a ClickException included)."""

    @functools.wraps(callback)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        exited: SystemExit | None = None
        with unit_of_work():
            try:
                result = callback(*args, **kwargs)
            except SystemExit as exit_status:  # a deliberate exit status: what was done stays
                exited = exit_status
        if exited is not None:
            raise exited
        return result

    return run


def stop_on_signals() -> threading.Event:
    """Set by SIGTERM (a service manager stopping the command) or Ctrl-C: a long-running
    command finishes the pass under way, then ends with exit status 0."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return stop


def command(
    name: str, group: AppGroup | None = None
) -> Callable[[Callable[..., Any]], click.Command]:
    """A command of `group` (or of its own), run in the app context and through `committed`."""

    def decorator(callback: Callable[..., Any]) -> click.Command:
        if group is None:
            return click.command(name)(with_appcontext(committed(callback)))
        return group.command(name)(committed(callback))

    return decorator


def init_app(app: Flask) -> None:
    from dashboard.cli import (
        acp,
        agents,
        export,
        outbox,
        overview,
        products,
        sandbox,
        stripe,
        users,
    )

    app.cli.add_command(users.group)
    app.cli.add_command(outbox.group)
    app.cli.add_command(sandbox.seed_demo)
    app.cli.add_command(sandbox.sandbox)
    app.cli.add_command(stripe.group)
    app.cli.add_command(products.group)
    app.cli.add_command(agents.group)
    app.cli.add_command(acp.group)
    app.cli.add_command(overview.group)
    app.cli.add_command(export.export)
