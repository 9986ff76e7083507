"""`flask outbox …`: read and acknowledge the domain events other systems consume."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from dashboard.cli import command
from dashboard.services import outbox

group = AppGroup("outbox", help="Read and acknowledge domain events (docs/outbox.md).")


@command("list", group)
@click.option("--all", "include_acked", is_flag=True, help="Include acknowledged events.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def outbox_list(include_acked: bool, limit: int, as_json: bool) -> None:
    """Events not yet acknowledged, oldest first."""
    for event in outbox.pending(limit=limit, include_acked=include_acked):
        record = {
            "id": event.id,
            "type": event.type,
            "order_id": event.order_id,
            "created_at": event.created_at.isoformat(),
            "acked_at": event.acked_at.isoformat() if event.acked_at else None,
            "payload": event.payload,
        }
        if as_json:
            click.echo(json.dumps(record, sort_keys=True))
        else:
            acked = f"\tacked {record['acked_at']}" if event.acked_at else ""
            click.echo(
                f"{event.id}\t{event.type}\torder {event.order_id}\t{record['created_at']}{acked}"
            )


@command("ack", group)
@click.argument("event_ids", nargs=-1, required=True, type=click.IntRange(min=1))
def outbox_ack(event_ids: tuple[int, ...]) -> None:
    """Acknowledge events as consumed (acknowledging twice is harmless)."""
    try:
        events = [outbox.ack(event_id) for event_id in event_ids]
    except outbox.UnknownOutboxEvent as error:
        raise click.ClickException(str(error)) from error
    for event in events:
        acked = event.acked_at.isoformat() if event.acked_at else ""
        click.echo(f"{event.id}\t{event.type}\tacked {acked}")
