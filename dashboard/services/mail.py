"""Outgoing email: written to the outbox in the caller's transaction, sent later by the
relay (`flask outbox relay`, services/relay/). Nothing here talks to an SMTP server, so no
request, and no transaction that moved money, ever waits for one or fails because of one.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from dashboard.extensions import db, upsert_insert
from dashboard.models import Order, OutboxMessage, TimelineKind, utcnow
from dashboard.services import timeline

log = logging.getLogger(__name__)

# A header value is one line: a line break in a recipient or a subject would be a header
# of its own (an injected Bcc:), and any other control character has no business there.
_CONTROL = re.compile("[\x00-\x1f\x7f]")
MAX_SUBJECT = 255


class UnsendableEmail(ValueError):
    """An address or subject that cannot go into a header as it is; a bug of the caller."""


def queue_email(
    recipient: str,
    subject: str,
    body: str,
    *,
    kind: str,
    dedupe_key: str,
    order: Order | None = None,
) -> OutboxMessage | None:
    """Write the email once per `dedupe_key` (e.g. `password_reset:<user>:<nonce>`), in the
    caller's transaction; None when it was written already (a retried request, two workers
    at once: the unique key decides, with no error). The order's timeline says so."""
    if _CONTROL.search(recipient) or _CONTROL.search(subject) or "@" not in recipient:
        raise UnsendableEmail(f"Not an email header value: {recipient!r} / {subject!r}")
    key = f"{kind}:{dedupe_key}"
    message_id: int | None = db.session.scalar(
        upsert_insert()(OutboxMessage)
        .values(
            kind=kind,
            recipient=recipient,
            subject=subject[:MAX_SUBJECT],
            body=body,
            order_id=order.id if order is not None else None,
            dedupe_key=key,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    if message_id is None:
        return None
    message = db.session.get(OutboxMessage, message_id)
    assert message is not None
    log.info("email queued", extra={"outbox_message_id": message_id, "kind": kind})
    if order is not None:
        timeline.append(
            order,
            TimelineKind.OUTBOX,
            f"Email #{message_id} ({kind}) to {recipient} queued",
            data={"outbox_message_id": message_id, "kind": kind, "recipient": recipient},
        )
    return message


def messages(
    *, failed: bool = False, include_done: bool = False, limit: int = 100
) -> list[OutboxMessage]:
    """Emails for `flask outbox emails`: waiting ones (default), given-up ones, or all."""
    query = select(OutboxMessage).order_by(OutboxMessage.id).limit(limit)
    if failed:
        query = query.where(OutboxMessage.failed_at.is_not(None))
    elif not include_done:
        query = query.where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
    return list(db.session.scalars(query))


class UnknownEmail(LookupError):
    pass


def retry(message_id: int) -> OutboxMessage:
    """Put a given-up email back in the queue, due now, with its attempts counted afresh
    (a sent one stays sent: sending it again is a new email, not a retry)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise UnknownEmail(f"There is no outbox email {message_id}.")
    if message.sent_at is None and message.failed_at is not None:
        message.failed_at = None
        message.attempts = 0
        message.next_attempt_at = utcnow()
        db.session.flush()
    return message
