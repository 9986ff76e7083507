"""The relay publishes domain events to the real RabbitMQ of the test machine
(127.0.0.1:5672, guest/guest): durable topic exchange, persistent messages, confirms, the
outbox id as message id. Skipped, saying why, where no broker answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from pika.exceptions import AMQPError
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import OutboxDelivery, OutboxEvent
from dashboard.services import outbox
from dashboard.services.outbox import OutboxType
from dashboard.transactions import unit_of_work
from tests.support.app import free_port

BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F?connection_attempts=1&socket_timeout=3"


@pytest.fixture
def broker() -> Iterator[dict[str, Any]]:
    """A uniquely named exchange of this test (declared as the relay declares it) and a
    queue bound to it for every routing key; both removed afterwards."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    except (AMQPError, OSError) as error:
        pytest.skip(f"no RabbitMQ at 127.0.0.1:5672 (guest/guest): {type(error).__name__}")
    channel = connection.channel()
    exchange = f"test.dashboard.{uuid.uuid4().hex[:12]}"
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(queue=queue, exchange=exchange, routing_key="#")
    yield {"channel": channel, "queue": queue, "exchange": exchange}
    channel.exchange_delete(exchange=exchange)
    connection.close()


def received(broker: dict[str, Any]) -> list[tuple[Any, Any, bytes]]:
    channel, found = broker["channel"], []
    while True:
        method, properties, body = channel.basic_get(queue=broker["queue"], auto_ack=True)
        if method is None:
            return found
        found.append((method, properties, body))


def write_events(app, make_order) -> list[int]:
    order = make_order()
    with app.app_context(), unit_of_work():
        attached = db.session.merge(order)
        created = outbox.emit(attached, OutboxType.ORDER_CREATED, "1", payment_object="pi_x")
        paid = outbox.emit(
            attached, OutboxType.PAYMENT_SUCCEEDED, "2", payment_intent="pi_x", amount_captured=5
        )
        return [created.id, paid.id]


def relay_once(app) -> str:
    result = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def test_events_are_published_persistent_confirmed_with_the_outbox_id(
    app, make_order, broker, mail_server
):
    app.config.update(OUTBOX_AMQP_URL=BROKER, OUTBOX_AMQP_EXCHANGE=broker["exchange"])
    ids = write_events(app, make_order)
    assert "2 delivered" in relay_once(app)
    messages = received(broker)
    assert [m.routing_key for m, _, _ in messages] == ["ORDER_CREATED", "PAYMENT_SUCCEEDED"]
    listed = app.test_cli_runner().invoke(args=["outbox", "list", "--json"]).output
    lines = [json.loads(line) for line in listed.splitlines()]
    for (method, properties, body), event_id, line in zip(messages, ids, lines, strict=True):
        assert method.exchange == broker["exchange"]
        assert properties.message_id == str(event_id)
        assert properties.delivery_mode == 2
        assert properties.content_type == "application/json"
        assert json.loads(body) == line  # the same JSON as `flask outbox list --json`
    with app.app_context():
        events = db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert all(e.published_at is not None and e.acked_at is None for e in events)
    assert "none due" in relay_once(app)  # published once
    assert received(broker) == []


def test_a_broker_that_is_down_loses_nothing_and_gets_them_once_it_answers(
    app, make_order, broker, mail_server
):
    down = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F?connection_attempts=1"
    app.config.update(OUTBOX_AMQP_URL=down, OUTBOX_AMQP_EXCHANGE=broker["exchange"])
    ids = write_events(app, make_order)
    assert "2 retry" in relay_once(app)
    with app.app_context():
        events = db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert all(e.published_at is None and e.attempts == 1 and e.last_error for e in events)
        outcomes = db.session.scalars(
            select(OutboxDelivery.outcome).where(OutboxDelivery.event_id == ids[0])
        ).all()
        assert outcomes == ["retry"]

    app.config["OUTBOX_AMQP_URL"] = BROKER
    assert "2 delivered" in relay_once(app)
    relay_once(app)
    assert sorted(p.message_id for _, p, _ in received(broker)) == sorted(map(str, ids))


def test_an_event_no_queue_takes_waits_rather_than_vanish(app, make_order, broker, mail_server):
    """Published with `mandatory`: with no queue bound the broker returns it, and it waits."""
    lonely = f"test.dashboard.unbound.{uuid.uuid4().hex[:12]}"
    app.config.update(OUTBOX_AMQP_URL=BROKER, OUTBOX_AMQP_EXCHANGE=lonely)
    try:
        write_events(app, make_order)
        assert "2 retry" in relay_once(app)
        with app.app_context():
            errors = db.session.scalars(select(OutboxEvent.last_error)).all()
        assert all("no queue is bound" in (error or "") for error in errors)
    finally:
        broker["channel"].exchange_delete(exchange=lonely)
