"""Domain events to the merchant's message broker: RabbitMQ over AMQP 0-9-1, with pika.

The contract (docs/outbox.md): a durable topic exchange (OUTBOX_AMQP_EXCHANGE), routing
key = the event's type, persistent messages (delivery mode 2), `message_id` = the outbox
id, `content_type` application/json, and the body `flask outbox list --json` prints. The
channel is in confirm mode: an event counts as published only once the broker has
confirmed it; a nack, an unroutable message (no queue bound for its type) or a lost
connection leaves it waiting, to be tried again after a backoff.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, NackError, UnroutableError

EXCHANGE_TYPE = "topic"
CONTENT_TYPE = "application/json"
PERSISTENT = 2


@dataclass(frozen=True)
class Publishing:
    """An event as it goes to the broker, read before the transaction ends."""

    id: int
    type: str
    record: dict[str, Any]

    @property
    def body(self) -> bytes:
        return json.dumps(self.record, sort_keys=True).encode()


class PublishFailed(Exception):
    """Not confirmed; `connection_lost` says whether the channel is still usable."""

    def __init__(self, message: str, *, connection_lost: bool) -> None:
        super().__init__(message)
        self.connection_lost = connection_lost


@contextmanager
def channel(url: str, exchange: str) -> Iterator[BlockingChannel]:
    """A confirming channel with the exchange declared (durable: it survives a restart of
    the broker). Raises PublishFailed when the broker cannot be reached."""
    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except (AMQPError, OSError) as error:
        raise PublishFailed(_describe(error), connection_lost=True) from error
    try:
        opened = connection.channel()
        opened.confirm_delivery()
        opened.exchange_declare(exchange=exchange, exchange_type=EXCHANGE_TYPE, durable=True)
        yield opened
    except AMQPError as error:
        raise PublishFailed(_describe(error), connection_lost=True) from error
    finally:
        with suppress(AMQPError, OSError):
            connection.close()


def publish(opened: BlockingChannel, exchange: str, event: Publishing) -> None:
    """Publish one event and wait for the broker's confirm; PublishFailed if none came."""
    properties = pika.BasicProperties(
        message_id=str(event.id),
        delivery_mode=PERSISTENT,
        content_type=CONTENT_TYPE,
        type=event.type,
    )
    try:
        # mandatory: a message no queue takes comes back (UnroutableError) rather than being
        # dropped by the broker while confirmed: it waits here until a queue is bound.
        opened.basic_publish(
            exchange=exchange,
            routing_key=event.type,
            body=event.body,
            properties=properties,
            mandatory=True,
        )
    except UnroutableError as error:
        raise PublishFailed(
            f"no queue is bound to exchange {exchange!r} for {event.type!r}",
            connection_lost=False,
        ) from error
    except NackError as error:
        raise PublishFailed("the broker refused it (nack)", connection_lost=False) from error
    except (AMQPError, OSError) as error:
        raise PublishFailed(_describe(error), connection_lost=True) from error


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
