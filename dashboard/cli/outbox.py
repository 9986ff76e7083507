"""`flask outbox …`: read and acknowledge the domain events other systems consume, see and
retry queued emails, and run the relay that delivers both."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from dashboard.cli import command, stop_on_signals
from dashboard.services import mail, outbox
from dashboard.services.relay import loop
from dashboard.services.relay.claims import Policy

group = AppGroup(
    "outbox", help="Domain events and emails, and the relay that delivers them (docs/outbox.md)."
)


@command("list", group)
@click.option("--all", "include_acked", is_flag=True, help="Include acknowledged events.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def outbox_list(include_acked: bool, limit: int, as_json: bool) -> None:
    """Events not yet acknowledged, oldest first."""
    for event in outbox.pending(limit=limit, include_acked=include_acked):
        record = outbox.record_of(event)
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


@command("emails", group)
@click.option("--failed", is_flag=True, help="Only emails the relay gave up on.")
@click.option("--all", "include_done", is_flag=True, help="Sent and given-up ones too.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def outbox_emails(failed: bool, include_done: bool, limit: int) -> None:
    """Emails waiting to be sent (oldest first), with their attempts and last error."""
    for message in mail.messages(failed=failed, include_done=include_done, limit=limit):
        if message.sent_at:
            state = f"sent {message.sent_at.isoformat()}"
        elif message.failed_at:
            state = f"FAILED {message.failed_at.isoformat()}"
        else:
            state = f"waiting, next try {message.next_attempt_at.isoformat()}"
        error = f"\t{message.last_error}" if message.last_error else ""
        click.echo(
            f"{message.id}\t{message.kind}\t{message.recipient}\t{state}"
            f"\t{message.attempts} attempt{'s' if message.attempts != 1 else ''}{error}"
        )


@command("retry", group)
@click.argument("message_ids", nargs=-1, required=True, type=click.IntRange(min=1))
def outbox_retry(message_ids: tuple[int, ...]) -> None:
    """Put emails the relay gave up on back in the queue (a sent one stays sent)."""
    try:
        retried = [mail.retry(message_id) for message_id in message_ids]
    except mail.UnknownEmail as error:
        raise click.ClickException(str(error)) from error
    for message in retried:
        state = "sent already" if message.sent_at else "waiting"
        click.echo(f"{message.id}\t{message.recipient}\t{state}")


@command("relay", group)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="Seconds to wait after a pass that found nothing due.",
)
def outbox_relay(once: bool, interval: float) -> None:
    """Send queued emails over SMTP, order events to agents over HTTP, and publish domain
    events to the broker (OUTBOX_AMQP_URL), with retries; safe to run on several hosts."""
    config = current_app.config
    policy = Policy.from_config(config, loop.relay_name())
    if once:
        report = loop.run_pass(config, policy)
        events = _tally(report.events) if config["OUTBOX_AMQP_URL"] else "no OUTBOX_AMQP_URL"
        click.echo(
            f"Emails: {_tally(report.emails)}. Order events to agents: "
            f"{_tally(report.agent_events)}. Events to the broker: {events}."
        )
        return
    stop = stop_on_signals()
    amqp = "and the broker" if config["OUTBOX_AMQP_URL"] else "(no OUTBOX_AMQP_URL: no broker)"
    server = f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"
    click.echo(f"Relay {policy.relay_id}: SMTP {server}, agents' webhook URLs {amqp}.")
    loop.run_forever(config, policy, stop, interval)
    click.echo("Relay stopped.")


def _tally(counts: dict[str, int]) -> str:
    if not counts:
        return "none due"
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
