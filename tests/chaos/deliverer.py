"""Send events as Stripe does: signed, at least once, in no order, retried until a 2xx.

Each event is queued 1 to 3 times, the queue shuffled, and 8 senders work through it. A
delivery is signed afresh on every attempt (Stripe signs each attempt) and retried after a
non-2xx answer, a connection error or a timeout, with a growing pause, up to
`MAX_ATTEMPTS`; an event none of whose deliveries was ever acknowledged is lost.

Faults are drawn per attempt from the seed (so a seed names its fault plan; the threads'
interleaving is the only thing left to chance) and asked of the server with the `X-Chaos`
header (tests/chaos/chaos_app.py).
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.stripe import stripe_signature

SENDERS = 8
TIMEOUT = 2.0  # seconds the sender waits for an answer, then gives up and retries later
MAX_ATTEMPTS = 12
# Per attempt: the fault and its probability (tests/chaos/chaos_app.py says what each does).
FAULTS: tuple[tuple[str, float], ...] = (
    ("kill", 0.02),
    ("drop-db", 0.035),
    ("slow", 0.015),
)


@dataclass
class EventTally:
    attempts: int = 0  # HTTP requests sent for this event, over all its deliveries
    acks: int = 0  # 2xx answers
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass
class Report:
    events: int = 0
    deliveries: int = 0  # copies queued (1-3 per event)
    requests: int = 0  # HTTP attempts, retries included
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # 200, 500, timeout, connection
    per_event: dict[str, EventTally] = field(default_factory=dict)
    abandoned: int = 0  # deliveries that reached MAX_ATTEMPTS without a 2xx
    seconds: float = 0.0

    @property
    def lost(self) -> list[str]:
        return sorted(eid for eid, tally in self.per_event.items() if tally.acks == 0)


def deliver(url: str, events: list[dict[str, Any]], seed: int) -> Report:
    rng = random.Random(seed)
    report = Report(events=len(events))
    work: list[tuple[int, str, bytes]] = []
    for event in events:
        body = json.dumps(event).encode()
        report.per_event[event["id"]] = EventTally()
        for _ in range(rng.randint(1, 3)):
            work.append((0, event["id"], body))
    rng.shuffle(work)
    report.deliveries = len(work)
    jobs: queue.Queue[tuple[int, str, bytes]] = queue.Queue()
    for number, (_, event_id, body) in enumerate(work):
        jobs.put((number, event_id, body))
    lock = threading.Lock()
    started = time.monotonic()

    def sender() -> None:
        with requests.Session() as http:
            while True:
                try:
                    number, event_id, body = jobs.get_nowait()
                except queue.Empty:
                    return
                _one_delivery(http, url, seed, number, event_id, body, report, lock)

    threads = [threading.Thread(target=sender, name=f"sender-{i}") for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.monotonic() - started
    return report


def _fault_for(seed: int, number: int, attempt: int) -> str:
    draw = random.Random(f"{seed}:{number}:{attempt}").random()
    for fault, probability in FAULTS:
        if draw < probability:
            return fault
        draw -= probability
    return ""


def _one_delivery(
    http: requests.Session,
    url: str,
    seed: int,
    number: int,
    event_id: str,
    body: bytes,
    report: Report,
    lock: threading.Lock,
) -> None:
    for attempt in range(MAX_ATTEMPTS):
        fault = _fault_for(seed, number, attempt)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature(body),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        if fault:
            headers["X-Chaos"] = fault
        try:
            response = http.post(url, data=body, headers=headers, timeout=TIMEOUT)
            outcome = str(response.status_code)
            ok = 200 <= response.status_code < 300
        except requests.Timeout:
            outcome, ok = "timeout", False
        except requests.RequestException:  # refused, reset, or cut off mid-answer
            outcome, ok = "connection error", False
        with lock:
            tally = report.per_event[event_id]
            tally.attempts += 1
            tally.statuses[outcome] += 1
            report.requests += 1
            report.outcomes[outcome] += 1
            if fault:
                report.faults[fault] += 1
            if ok:
                tally.acks += 1
        if ok:
            return
        # Stripe backs off for hours; here tenths of a second, growing, with jitter.
        time.sleep(min(0.05 * 2**attempt, 1.5) * (0.5 + random.random()))
    with lock:
        report.abandoned += 1
