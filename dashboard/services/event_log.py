"""The event log: support's view of the Stripe event inbox (find, filter, read, retry)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import defer

from dashboard.domain.ids import MAX_ROW_ID, parse_order_number
from dashboard.extensions import db
from dashboard.models import EventStatus, Order, StripeEvent, utcnow
from dashboard.payments.snapshots import dashboard_url
from dashboard.payments.webhooks import redact
from dashboard.services import order_search
from dashboard.services.inbox import store
from dashboard.services.inbox.health import WebhookHealth, health
from dashboard.services.pagination import Page, newest_first

# What a valid `type` filter looks like: Stripe's event names ("charge.dispute.created").
EVENT_TYPE = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_STRIPE_ID = re.compile(r"[A-Za-z]+_[A-Za-z0-9_]+")
_STRIPE_PREFIX = re.compile(r"[A-Za-z]+_")
# The statuses that need a person: each gets its own tab with a count.
NEEDS_ATTENTION = (EventStatus.FAILED, EventStatus.UNMATCHED)


class InvalidFilter(ValueError):
    """A filter or search the log cannot run; the message says what it accepts."""


def parse_type(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if len(text) > 100 or not EVENT_TYPE.fullmatch(text):
        raise InvalidFilter(
            "An event type is lower-case words joined by dots, like payment_intent.succeeded."
        )
    return text


def parse_status(text: str) -> EventStatus | None:
    text = text.strip()
    if not text:
        return None
    try:
        return EventStatus(text)
    except ValueError:
        names = ", ".join(status.value for status in EventStatus)
        raise InvalidFilter(f"There is no event status called {text!r}; try {names}.") from None


# "Received in the last N hours": at most 30 days, what Stripe keeps and Home looks back on.
MAX_HOURS = 720


def parse_hours(text: str) -> int | None:
    """The events received in the last N hours (1 to MAX_HOURS), or None for any time."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= MAX_HOURS):
        raise InvalidFilter(
            f"Received within is a number of hours from 1 to {MAX_HOURS}, such as 24."
        )
    return int(text)


SEARCH_TAKES = (
    "Search by an event id (evt_…), a PaymentIntent id (pi_…), another Stripe id "
    "(ch_…, cs_…, re_…, dp_…), an order number (42 or #42) or a buyer's email."
)


def _search(query: Select[StripeEvent], text: str) -> Select[StripeEvent]:
    """An event id, a PaymentIntent id, another Stripe object id, an order number, or the
    start of a buyer's email (the events of their orders)."""
    number = parse_order_number(text)
    if number is not None:
        return query.where(StripeEvent.order_id == number if number <= MAX_ROW_ID else false())
    if "@" in text and "\x00" not in text:
        buyers_orders = select(Order.id).where(order_search.email_starts_with(text))
        return query.where(StripeEvent.order_id.in_(buyers_orders))
    if _STRIPE_PREFIX.fullmatch(text):
        raise InvalidFilter(
            f"{text} is only the start of a Stripe id: paste the whole id, such as "
            f"{text}1MqLq2Ab3cDe4fGh. {SEARCH_TAKES}"
        )
    if len(text) > 255 or not _STRIPE_ID.fullmatch(text):
        raise InvalidFilter(SEARCH_TAKES)
    if text.startswith("evt_"):
        return query.where(StripeEvent.event_id == text)
    if text.startswith("pi_"):
        return query.where(StripeEvent.payment_intent_id == text)
    return query.where(StripeEvent.object_id == text)


def list_events(
    *,
    type_: str | None = None,
    status: EventStatus | None = None,
    search: str = "",
    flagged: bool = False,
    hours: int | None = None,
    older_than: int | None = None,
    newer_than: int | None = None,
    per_page: int = 50,
) -> Page[StripeEvent]:
    """Newest first, keyset-paginated by row id; payloads are not read for the list.
    `hours`: only the events last received within that many hours (as Home counts the
    failures of the last 24 hours, services/inbox/health.py)."""
    query = select(StripeEvent).options(defer(StripeEvent.payload), defer(StripeEvent.traceback))
    if hours is not None:
        query = query.where(StripeEvent.last_received_at >= utcnow() - timedelta(hours=hours))
    if flagged:
        query = query.where(StripeEvent.flag.is_not(None))
    if type_ is not None:
        query = query.where(StripeEvent.type == type_)
    if status is not None:
        query = query.where(StripeEvent.status == status.value)
    search = search.strip()
    if search:
        query = _search(query, search)
    return newest_first(
        query, StripeEvent.id, older_than=older_than, newer_than=newer_than, per_page=per_page
    )


def attention_counts() -> dict[str, int]:
    """How many events are failed and unmatched right now (all time, not only today)."""
    counts = {status.value: 0 for status in NEEDS_ATTENTION}
    for status, count in db.session.execute(
        select(StripeEvent.status, func.count())
        .where(StripeEvent.status.in_(list(counts)))
        .group_by(StripeEvent.status)
    ):
        counts[str(status)] = int(count)
    return counts


def flagged_count() -> int:
    """How many events were kept with a flag (what they said was refused outright)."""
    return int(db.session.scalar(select(func.count()).where(StripeEvent.flag.is_not(None))) or 0)


@dataclass(frozen=True)
class EventLog:
    page: Page[StripeEvent]
    attention: dict[str, int]
    flagged: int
    health: WebhookHealth

    @property
    def known_types(self) -> list[str]:
        """Types seen so far that the type filter accepts, for its choices."""
        return [kind for kind, _ in self.health.last_by_type if EVENT_TYPE.fullmatch(kind)]


def without_rows() -> EventLog:
    """The log page's counts and health, with no events listed (its query could not run)."""
    return EventLog(
        page=Page(rows=[], newer_than=None, older_than=None),
        attention=attention_counts(),
        flagged=flagged_count(),
        health=health(),
    )


def event_log(
    *,
    type_: str | None = None,
    status: EventStatus | None = None,
    search: str = "",
    flagged: bool = False,
    hours: int | None = None,
    older_than: int | None = None,
    newer_than: int | None = None,
    per_page: int = 50,
) -> EventLog:
    """The log page: one page of events, the counts that need attention, webhook health."""
    return EventLog(
        page=list_events(
            type_=type_,
            status=status,
            search=search,
            flagged=flagged,
            hours=hours,
            older_than=older_than,
            newer_than=newer_than,
            per_page=per_page,
        ),
        attention=attention_counts(),
        flagged=flagged_count(),
        health=health(),
    )


# -- reading one event ------------------------------------------------------------------


def _escape_invisible(text: str) -> str:
    """Control and formatting characters (bidi overrides, zero-width...) as JSON escapes.

    json.dumps already escapes C0 controls inside strings; this shows the rest, so a
    payload cannot reorder or hide what support reads. Newlines here are the indent's.
    """
    out = []
    for char in text:
        if char != "\n" and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs"):
            code = ord(char)
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def pretty_json(payload: Any) -> str:
    """The stored payload for people: indented, secrets redacted, invisible characters shown."""
    return _escape_invisible(json.dumps(redact(payload), indent=2, ensure_ascii=False))


@dataclass(frozen=True)
class DashboardLink:
    label: str
    object_id: str
    url: str


def dashboard_links(row: StripeEvent) -> list[DashboardLink]:
    """The event and the objects it concerns, each on Stripe's Dashboard (test or live)."""
    links = []
    seen = set()
    for label, object_id in (
        ("Event", row.event_id),
        ("Object", row.object_id),
        ("PaymentIntent", row.payment_intent_id),
    ):
        if not object_id or object_id in seen:
            continue
        url = dashboard_url(object_id, livemode=row.livemode)
        if url:
            seen.add(object_id)
            links.append(DashboardLink(label, object_id, url))
    return links


# -- retrying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReprocessResult:
    event: StripeEvent
    ran: bool  # False: it was applied or ignored already, nothing was done
    ok: bool
    message: str


def reprocess(row_id: int) -> ReprocessResult:
    """Staff's retry of one event (also an unmatched one: its order may exist now); says
    what became of it, or that nothing needed doing."""
    processed = store.process(row_id, include_unmatched=True)
    row = processed.row
    name = f"Event {row.event_id}"
    if not processed.ran:
        return ReprocessResult(
            row, False, True, f"{name} is already {row.status}: nothing was done."
        )
    status = EventStatus(row.status)
    if status is EventStatus.APPLIED:
        return ReprocessResult(row, True, True, f"{name} reprocessed: applied ({row.reason}).")
    if status is EventStatus.IGNORED:
        return ReprocessResult(row, True, True, f"{name} reprocessed: ignored ({row.reason}).")
    if status is EventStatus.UNMATCHED:
        return ReprocessResult(row, True, False, f"{name} still matches no order. {row.reason}")
    return ReprocessResult(row, True, False, f"{name} failed again: {row.error}")
