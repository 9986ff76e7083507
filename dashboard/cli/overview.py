"""`flask overview …`: the home page's rollups, rebuilt from the ledger and the attempts."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dashboard.cli import command
from dashboard.services.overview import rollups

group = AppGroup("overview", help="The home page's figures (rollups per quarter hour).")


@command("rebuild", group)
@click.option(
    "--batch",
    type=click.IntRange(100, 1_000_000),
    default=20_000,
    show_default=True,
    help="Source rows read at a time.",
)
def overview_rebuild(batch: int) -> None:
    """Recompute the rollups from every capture, refund and payment attempt stored: after
    the upgrade that adds them, or to check them. One transaction: the home page shows the
    old figures until it commits."""
    read = rollups.rebuild(batch=batch)
    click.echo(f"Rebuilt the home page's figures from {read:,} captures, refunds and attempts.")
