"""Chaos: seeded Stripe histories, delivered to a real gunicorn under faults, end in the truth.

Orders are seeded in PostgreSQL; their events (hold, full or partial capture, several
captures, a larger hold, void, refunds, dispute, lapsed hold, a lapsing hold replaced by a
new one, expired checkout, decline then retry) are sent signed to
gunicorn with four workers, each event 1-3 times, shuffled, from 8 concurrent senders,
while workers are killed mid-request, database connections dropped before commit and
answers delayed past the sender's timeout (tests/chaos/). Then one
`flask stripe sweep-holds` runs against a loopback Stripe that answers each object's
final state (tests/chaos/stripe_api.py says why a double), and every invariant is checked.

Size and seed: CHAOS_EVENTS (default 200) and CHAOS_SEED. `make chaos N=10000` runs the
large size on its own database. Figures of a large run: docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from dashboard.domain.orders import LineDraft
from dashboard.extensions import db
from dashboard.models import (
    Dispute,
    Order,
    OutboxEvent,
    StripeEvent,
    TimelineEntry,
    TimelineKind,
)
from dashboard.services import orders as order_service
from tests.chaos.deliverer import Report, deliver
from tests.chaos.histories import History, Truth, build, plan_orders
from tests.chaos.server import chaos_environment, gunicorn, sweep_holds
from tests.chaos.stripe_api import serve_stripe
from tests.support.database import BACKENDS
from tests.support.stripe import WEBHOOK_SECRET

pytestmark = pytest.mark.postgres

EVENTS = int(os.environ.get("CHAOS_EVENTS", "200"))
SEED = int(os.environ.get("CHAOS_SEED", "20261124"))
SEED_BATCH = 500


def seed_orders(app: Flask, rng: random.Random) -> list[History]:
    """The orders, written through the real service, then their histories for their ids."""
    plans = plan_orders(EVENTS, rng)
    histories: list[History] = []
    with app.app_context():
        for start in range(0, len(plans), SEED_BATCH):
            batch = []
            for plan in plans[start : start + SEED_BATCH]:
                order = order_service.create_order(
                    actor=None,
                    buyer_name="Chaos Buyer",
                    buyer_email=f"buyer{len(histories) + len(batch)}@chaos.example",
                    currency="USD",
                    lines=[LineDraft("Chaos widget", 1, plan.amount)],
                )
                batch.append((plan, order))
            db.session.flush()
            for plan, order in batch:
                history = build(plan, order.id, tag=str(SEED))
                for column, value in history.seed_columns.items():
                    setattr(order, column, value)
                histories.append(history)
            db.session.commit()
    return histories


def found(app: Flask, history: History) -> Truth:
    """What the database says about the order, in the truth's terms."""
    order = db.session.get(Order, history.order_id)
    assert order is not None
    dispute = db.session.scalar(select(Dispute).where(Dispute.order_id == order.id))
    outbox = sorted(
        db.session.scalars(select(OutboxEvent.type).where(OutboxEvent.order_id == order.id))
    )
    optional = tuple(kind for kind in history.truth.outbox_optional if kind in outbox)
    required = tuple(kind for kind in outbox if kind not in optional)
    return Truth(
        state=order.state,
        authorized=order.amount_authorized,
        capturable=order.amount_capturable,
        captured=order.amount_captured,
        refunded=order.amount_refunded,
        payment_intent_id=order.stripe_payment_intent_id,
        dispute=(dispute.status, dispute.funds_withdrawn, dispute.funds_reinstated)
        if dispute
        else None,
        outbox=required,
        outbox_optional=history.truth.outbox_optional,
    )


def wrong_orders(app: Flask, histories: list[History]) -> dict[int, tuple[str, Truth, Truth]]:
    with app.app_context():
        wrong = {}
        for history in histories:
            got = found(app, history)
            if got != history.truth:
                wrong[history.order_id] = (history.plan.kind, history.truth, got)
        db.session.remove()
        return wrong


def inbox_check(app: Flask, events: list[dict[str, Any]], report: Report) -> dict[str, Any]:
    """The inbox, the timeline and the outbox against what was sent and acknowledged."""
    sent = {event["id"] for event in events}
    with app.app_context():
        rows = db.session.execute(
            select(
                StripeEvent.id,
                StripeEvent.event_id,
                StripeEvent.status,
                StripeEvent.delivery_count,
                StripeEvent.process_count,
            )
        ).all()
        applications = Counter(
            dict(
                db.session.execute(
                    select(TimelineEntry.stripe_event_id, func.count())
                    .where(TimelineEntry.kind == TimelineKind.WEBHOOK.value)
                    .group_by(TimelineEntry.stripe_event_id)
                ).all()
            )
        )
        outbox_duplicates = db.session.execute(
            select(OutboxEvent.order_id, OutboxEvent.type, func.count())
            .group_by(OutboxEvent.order_id, OutboxEvent.type)
            .having(func.count() > 1)
        ).all()
        outbox_total = db.session.scalar(select(func.count()).select_from(OutboxEvent))
        db.session.remove()
    stored = Counter(row.event_id for row in rows)
    by_id = {row.event_id: row for row in rows}
    bad_counts = {
        row.event_id: (
            report.per_event[row.event_id].acks,
            row.delivery_count,
            report.per_event[row.event_id].attempts,
        )
        for row in rows
        if row.event_id in sent
        and not (
            report.per_event[row.event_id].acks
            <= row.delivery_count
            <= report.per_event[row.event_id].attempts
        )
    }
    unfinished = {
        eid: by_id[eid].status
        for eid in sent & by_id.keys()
        if by_id[eid].status not in ("applied", "ignored")
    }
    return {
        "missing": sorted(sent - stored.keys()),
        "unexpected": sorted(stored.keys() - sent),
        "stored_twice": sorted(eid for eid, count in stored.items() if count > 1),
        "bad_delivery_counts": bad_counts,
        "unfinished": unfinished,
        "processed_more_than_once": sorted(row.event_id for row in rows if row.process_count != 1),
        "duplicate_applications": sum(max(0, n - 1) for n in applications.values()),
        "statuses": Counter(row.status for row in rows),
        "delivery_count_total": sum(row.delivery_count for row in rows),
        "outbox_duplicates": [tuple(row) for row in outbox_duplicates],
        "outbox_total": outbox_total,
    }


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs PostgreSQL: set TEST_DATABASE_URL")
def test_chaos_deliveries_end_in_the_truth(
    app: Flask, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("gunicorn's workers share one database: PostgreSQL only")
    rng = random.Random(SEED)
    histories = seed_orders(app, rng)
    events = [event for history in histories for event in history.events]
    rng.shuffle(events)
    objects = {oid: obj for history in histories for oid, obj in history.stripe_objects.items()}
    with serve_stripe(objects) as (stripe_url, stripe_api):
        env = chaos_environment(database_url, WEBHOOK_SECRET, stripe_url, tmp_path / "instance")
        with gunicorn(env, tmp_path / "gunicorn.log") as url:
            report = deliver(url + "/webhooks/stripe", events, SEED)
        wrong_before_sweep = wrong_orders(app, histories)
        sweep = sweep_holds(env)
    wrong = wrong_orders(app, histories)
    inbox = inbox_check(app, events, report)
    kills = sum(n for fault, n in report.faults.items() if fault.startswith("kill"))
    summary = {
        "seed": SEED,
        "orders": len(histories),
        "kinds": dict(Counter(h.plan.kind for h in histories)),
        "events_sent": len(events),
        "deliveries": report.deliveries,
        "requests": report.requests,
        "faults_injected": dict(report.faults),
        "faults_total": sum(report.faults.values()),
        "answers": dict(report.outcomes),
        "inbox_delivery_count_total": inbox["delivery_count_total"],
        "inbox_statuses": dict(inbox["statuses"]),
        "orders_correct": len(histories) - len(wrong),
        "orders_correct_before_sweep": len(histories) - len(wrong_before_sweep),
        "lost_events": len(set(report.lost) | set(inbox["missing"]) | set(inbox["unfinished"])),
        "duplicate_applications": inbox["duplicate_applications"],
        "outbox_events": inbox["outbox_total"],
        "outbox_duplicates": len(inbox["outbox_duplicates"]),
        "sweep_exit": sweep.returncode,
        "sweep_reads": dict(stripe_api.reads),
        "seconds_delivering": round(report.seconds, 1),
    }
    with capsys.disabled():
        print(
            f"\nchaos seed {SEED}: {len(events)} events sent, {report.deliveries} deliveries "
            f"({report.requests} requests), {summary['faults_total']} faults injected "
            f"({kills} worker kills), orders correct {summary['orders_correct']}/"
            f"{len(histories)} ({summary['orders_correct_before_sweep']} before the sweep), "
            f"lost events {summary['lost_events']}, duplicate applications "
            f"{summary['duplicate_applications']}, {report.seconds:.1f} s"
        )
        print("chaos detail: " + json.dumps(summary, sort_keys=True))
    if os.environ.get("CHAOS_REPORT"):
        Path(os.environ["CHAOS_REPORT"]).write_text(json.dumps(summary, indent=2) + "\n")

    assert not report.lost, f"never acknowledged: {report.lost[:10]}"
    assert not inbox["missing"], inbox["missing"][:10]
    assert not inbox["unexpected"]
    assert not inbox["stored_twice"]
    assert not inbox["bad_delivery_counts"], "(acks, delivery_count, attempts) " + str(
        list(inbox["bad_delivery_counts"].items())[:10]
    )
    assert not inbox["unfinished"], list(inbox["unfinished"].items())[:10]
    assert not inbox["processed_more_than_once"], inbox["processed_more_than_once"][:10]
    assert inbox["duplicate_applications"] == 0
    assert not inbox["outbox_duplicates"]
    assert not stripe_api.unknown, stripe_api.unknown[:10]
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert not wrong_before_sweep, list(wrong_before_sweep.items())[:5]
    assert not wrong, list(wrong.items())[:5]
