"""Order events to agents over HTTP: signed at each attempt, one order's events in order.

Each event is POSTed to its agent's webhook URL with `Merchant-Signature: t=<now>,v1=<HMAC>`
(domain/agent_events.py), a stable `Request-Id` (the same on every attempt of one event,
so the agent can drop a copy) and the body written with the change. A 2xx answer delivers
it; anything else (another status, a refused connection, a timeout) is tried again after
the outbox's backoff, up to OUTBOX_MAX_ATTEMPTS, then stopped. The claim (services/relay/
claims.py) never gives a relay an event while an earlier one of its order still waits, so
an agent hears an order's events in the order they happened. A revoked agent's events
stop where they are: none is sent after the revocation.
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from dashboard.domain import agent_events as acp
from dashboard.domain.backoff import retry_delay
from dashboard.extensions import db
from dashboard.models import TimelineKind, utcnow
from dashboard.models.agent_webhooks import AgentWebhook, AgentWebhookAttempt
from dashboard.services import agents, timeline
from dashboard.services.relay.claims import MAX_ERROR, Policy, claim
from dashboard.transactions import unit_of_work

BATCH = 10
USER_AGENT = "dashboard-order-events/1"
# How much of an agent's answer is kept (on the row, the attempt and the timeline).
ANSWER_CHARS = 200


@dataclass(frozen=True)
class Outgoing:
    """An event as the relay sends it, read before its transaction ends."""

    id: int
    url: str
    body: str
    secret: str
    request_id: str


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, unreadable)
    text: str

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def request_id_of(webhook: AgentWebhook) -> str:
    return f"evt_{webhook.id}_{webhook.fingerprint[:12]}"


def deliver_due(config: Any, policy: Policy, tally: dict[str, int], stop: Any = None) -> None:
    """Send every event due now, each tried at most once in this pass."""
    due_by = utcnow()
    timeout = float(config["AGENT_WEBHOOK_TIMEOUT"])
    while not (stop and stop.is_set()):
        ids = claim(AgentWebhook, policy, due_by=due_by, limit=BATCH)
        if not ids:
            return
        for webhook_id in ids:
            outcome = deliver(webhook_id, policy, timeout)
            tally[outcome] = tally.get(outcome, 0) + 1


def deliver(webhook_id: int, policy: Policy, timeout: float) -> str:
    """One attempt at one claimed event; the outcome recorded."""
    started = utcnow()
    outgoing: Outgoing | None = None
    with unit_of_work():
        webhook = db.session.get(AgentWebhook, webhook_id)
        if webhook is None:
            return "gone"
        if webhook.agent.is_revoked:
            return _stop_revoked(webhook, policy, started)
        try:
            secret = agents.webhook_secret(webhook.agent)
        except Exception as error:  # a sealed secret SECRET_KEY no longer opens
            unreadable = Answer(None, f"cannot read the agent's signing secret ({error!r})")
        else:
            outgoing = Outgoing(
                webhook.id, webhook.agent.webhook_url, webhook.body, secret, request_id_of(webhook)
            )
    answer = post(outgoing, timeout) if outgoing is not None else unreadable
    return record(webhook_id, answer, policy, started)


def post(outgoing: Outgoing, timeout: float) -> Answer:
    """POST the body, signed now; never follows a redirect (an answer like any other)."""
    body = outgoing.body.encode()
    now = int(time.time())
    headers = {
        "Content-Type": "application/json",
        acp.SIGNATURE_HEADER: acp.signature(outgoing.secret, now, body),
        "Request-Id": outgoing.request_id,
        "Timestamp": utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "User-Agent": USER_AGENT,
    }
    url = urlsplit(outgoing.url)
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    connection: http.client.HTTPConnection
    if url.scheme == "https":
        connection = http.client.HTTPSConnection(url.netloc, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(url.netloc, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(4096).decode(errors="replace")
        return Answer(response.status, " ".join(text.split())[:ANSWER_CHARS])
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:g} s")
    except ConnectionRefusedError:
        return Answer(None, "the agent's server refused the connection (is it down?)")
    except socket.gaierror:
        return Answer(None, f"no such host as {url.hostname!r}")
    except (OSError, http.client.HTTPException) as error:
        said = f"could not reach the agent's server ({type(error).__name__}: {error})"
        return Answer(None, said[:ANSWER_CHARS])
    finally:
        connection.close()


def _describe(answer: Answer) -> str:
    if answer.status is None:
        return answer.text
    return f"HTTP {answer.status}" + (f" {answer.text}" if answer.text else "")


def record(webhook_id: int, answer: Answer, policy: Policy, started: Any) -> str:
    """Write the attempt on the event, in its attempts, and on the order's timeline."""
    with unit_of_work():
        webhook = db.session.get(AgentWebhook, webhook_id)
        if webhook is None:
            return "gone"
        now = utcnow()
        said = _describe(answer)[:MAX_ERROR]
        webhook.last_status = answer.status
        where = f"Agent event {webhook.event_type} #{webhook.id} to {webhook.agent.name}"
        tries = f"attempt {webhook.attempts}"
        if answer.delivered:
            outcome = "delivered"
            webhook.delivered_at = now
            webhook.last_error = None
            summary = f"{where} delivered ({said}, {tries})"
        elif webhook.attempts >= policy.max_attempts:
            outcome = "failed"
            webhook.stopped_at = now
            webhook.last_error = said
            summary = f"{where} not delivered: {said} ({tries}, the last one; given up)"
        else:
            outcome = "retry"
            delay = retry_delay(webhook.attempts, base=policy.retry_base, cap=policy.retry_max)
            webhook.next_attempt_at = now + timedelta(seconds=delay)
            webhook.last_error = said
            summary = f"{where} not delivered: {said} ({tries}; tried again in {delay:.0f} s)"
        _release(webhook, policy)
        _attempt(webhook, policy, started, now, outcome, answer.status, said)
        timeline.append(
            webhook.order,
            TimelineKind.OUTBOX,
            summary,
            data={
                "agent_webhook_id": webhook.id,
                "outcome": outcome,
                "status_code": answer.status,
                "attempt": webhook.attempts,
            },
        )
    return outcome


def _stop_revoked(webhook: AgentWebhook, policy: Policy, started: Any) -> str:
    now = utcnow()
    webhook.stopped_at = now
    webhook.last_error = "not sent: the agent was revoked"
    _release(webhook, policy)
    _attempt(webhook, policy, started, now, "stopped", None, webhook.last_error)
    timeline.append(
        webhook.order,
        TimelineKind.OUTBOX,
        f"Agent event {webhook.event_type} #{webhook.id} not sent: "
        f"{webhook.agent.name} was revoked",
        data={"agent_webhook_id": webhook.id, "outcome": "stopped"},
    )
    return "stopped"


def _release(webhook: AgentWebhook, policy: Policy) -> None:
    if webhook.claimed_by == policy.relay_id:
        webhook.claimed_by = None
        webhook.claimed_until = None


def _attempt(
    webhook: AgentWebhook,
    policy: Policy,
    started: Any,
    now: Any,
    outcome: str,
    status: int | None,
    said: str,
) -> None:
    db.session.add(
        AgentWebhookAttempt(
            webhook_id=webhook.id,
            relay=policy.relay_id,
            started_at=started,
            finished_at=now,
            outcome=outcome,
            status_code=status,
            answer=said,
        )
    )
