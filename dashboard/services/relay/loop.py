"""The relay's work: one pass over what is due (emails, order events to agents, then domain
events when a broker is configured), and the long-running process that repeats it until it
is told to stop."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from dashboard.extensions import db
from dashboard.models import DeliveryOutcome, OutboxEvent, OutboxMessage, utcnow
from dashboard.services import outbox
from dashboard.services.relay import agent_webhooks, amqp, smtp
from dashboard.services.relay.claims import Attempt, Policy, claim, record
from dashboard.transactions import unit_of_work

log = logging.getLogger(__name__)

# Rows claimed at once: small, so a relay that dies strands few, and its lease is short.
BATCH = 10


def relay_name() -> str:
    """This process among the relays (host, pid, and a nonce for a reused pid)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class PassReport:
    """What one pass did, counted per outcome."""

    emails: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    agent_events: dict[str, int] = field(default_factory=dict)

    def count(self, tally: dict[str, int], outcome: str) -> None:
        tally[outcome] = tally.get(outcome, 0) + 1

    @property
    def handled(self) -> int:
        tallies = (self.emails, self.events, self.agent_events)
        return sum(sum(tally.values()) for tally in tallies)


def run_pass(config: Any, policy: Policy, stop: threading.Event | None = None) -> PassReport:
    """Deliver every email and publish every event due when the pass starts, each tried at
    most once in it (a retry is due later), then return."""
    report = PassReport()
    due_by = utcnow()
    settings = smtp.SmtpSettings.from_config(config)
    while not (stop and stop.is_set()):
        ids = claim(OutboxMessage, policy, due_by=due_by, limit=BATCH)
        if not ids:
            break
        _send_emails(ids, settings, policy, report)
    if not (stop and stop.is_set()):
        agent_webhooks.deliver_due(config, policy, report.agent_events, stop)
    url = config["OUTBOX_AMQP_URL"]
    while url and not (stop and stop.is_set()):
        ids = claim(OutboxEvent, policy, due_by=due_by, limit=BATCH)
        if not ids:
            break
        _publish_events(ids, url, config["OUTBOX_AMQP_EXCHANGE"], policy, report)
    return report


def _read(model: type[OutboxMessage] | type[OutboxEvent], ids: list[int]) -> list[Any]:
    with unit_of_work():
        rows = [db.session.get(model, row_id) for row_id in ids]
        if model is OutboxMessage:
            return [smtp.Outgoing.of(row) for row in rows if isinstance(row, OutboxMessage)]
        return [
            amqp.Publishing(row.id, row.type, outbox.record_of(row))
            for row in rows
            if isinstance(row, OutboxEvent)
        ]


def _send_emails(
    ids: list[int], settings: smtp.SmtpSettings, policy: Policy, report: PassReport
) -> None:
    """One connection for the batch, opened again after one that broke; a server that
    cannot be reached leaves the rest of the batch to be tried again later."""
    waiting: list[smtp.Outgoing] = _read(OutboxMessage, ids)
    while waiting:
        started = utcnow()
        try:
            conn = smtp.connect(settings)
        except Exception as error:  # unreachable, refused, a wrong login: all wait
            failure = smtp.failure_of(error)
            log.warning("SMTP server unavailable: %s", failure.error)
            for outgoing in waiting:
                _finish(OutboxMessage, outgoing.id, started, policy, report, failure)
            return
        try:
            while waiting:
                outgoing, started = waiting.pop(0), utcnow()
                try:
                    smtp.send(conn, outgoing, settings)
                except Exception as error:  # every failure is recorded
                    failure = smtp.failure_of(error)
                    _finish(OutboxMessage, outgoing.id, started, policy, report, failure)
                    if failure.connection_lost:
                        break
                    continue
                _finish(OutboxMessage, outgoing.id, started, policy, report, None)
        finally:
            smtp.close(conn)


def _finish(
    model: type[OutboxMessage] | type[OutboxEvent],
    row_id: int,
    started: Any,
    policy: Policy,
    report: PassReport,
    failure: smtp.Failure | None,
) -> None:
    if failure is None:
        attempt = Attempt(row_id, started, DeliveryOutcome.DELIVERED)
    else:
        attempt = Attempt(
            row_id, started, DeliveryOutcome.RETRY, failure.error, permanent=failure.permanent
        )
    channel = "smtp" if model is OutboxMessage else "amqp"
    outcome = record(model, attempt, policy, channel)
    tally = report.emails if model is OutboxMessage else report.events
    report.count(tally, outcome)
    log.info(
        "outbox delivery",
        extra={"channel": channel, "row_id": row_id, "outcome": outcome},
    )


def _publish_events(
    ids: list[int], url: str, exchange: str, policy: Policy, report: PassReport
) -> None:
    waiting: list[amqp.Publishing] = _read(OutboxEvent, ids)
    started = utcnow()
    try:
        with amqp.channel(url, exchange) as opened:
            while waiting:
                event, started = waiting[0], utcnow()
                try:
                    amqp.publish(opened, exchange, event)
                except amqp.PublishFailed as error:
                    waiting.pop(0)
                    failure = smtp.Failure(str(error), False, error.connection_lost)
                    _finish(OutboxEvent, event.id, started, policy, report, failure)
                    if error.connection_lost:
                        raise
                    continue
                waiting.pop(0)
                _finish(OutboxEvent, event.id, started, policy, report, None)
    except amqp.PublishFailed as error:
        for event in waiting:
            failure = smtp.Failure(str(error), False, True)
            _finish(OutboxEvent, event.id, started, policy, report, failure)
        log.warning("message broker unavailable: %s", error)


def run_forever(config: Any, policy: Policy, stop: threading.Event, interval: float) -> None:
    """Pass after pass; sleeps `interval` seconds after a pass that found nothing due. Ends
    after the pass under way when `stop` is set (SIGTERM, Ctrl-C)."""
    while not stop.is_set():
        try:
            report = run_pass(config, policy, stop)
        except Exception:  # a database that went away: logged, and tried again
            log.exception("relay pass failed")
            db.session.remove()
            stop.wait(interval)
            continue
        if report.handled == 0:
            stop.wait(interval)
