"""`flask stripe sync`: the events Stripe has that the webhooks did not bring.

Stripe lists the last 30 days of events. The sync reads them oldest first from a watermark
(the last event it read: one `sync_watermarks` row per stream) and feeds each one through
the inbox the webhooks use, a page at a time (`store.receive_page`, source "sync"): an
event already received only has its delivery count bumped and is never applied twice, so
reading an event again is harmless. The watermark marks a point before which everything has
been read: it moves forward only, never over a stretch a run skipped (`--since` later than
the watermark), and is committed with every page (one unit of work each), so an
interrupted sync resumes there.

Only the event types a handler is registered for are fed to it; the others (Stripe's list
holds every type of the account: customers, payouts...) are counted as skipped rather than
stored as "ignored" one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.extensions import db
from dashboard.models import EventStatus, SyncWatermark, utcnow
from dashboard.payments.event_list import (
    EVENT_RETENTION,
    EVENTS_PAGE_SIZE,
    EventCursor,
    read_ahead,
)
from dashboard.payments.gateway import gateway
from dashboard.payments.webhooks import WebhookRejected, check_event_shape
from dashboard.services import planner_statistics
from dashboard.services.inbox import store
from dashboard.services.inbox.handlers.registry import registration
from dashboard.transactions import unit_of_work

log = logging.getLogger(__name__)

STREAM = "events"


@dataclass(frozen=True)
class SyncPlan:
    """Where a sync starts reading: after an event it read before, or from a moment."""

    after: EventCursor | None
    since: datetime | None
    starts_at: datetime
    note: str | None = None
    moves_watermark: bool = True


@dataclass
class SyncResult:
    pages: int = 0
    read: int = 0
    new: int = 0  # not in the inbox before: missed by the webhooks (or not yet delivered)
    already: int = 0  # received before (by webhook or an earlier sync): delivery counted
    skipped: int = 0  # a type the inbox does not act on
    failed: list[str] = field(default_factory=list)  # stored, processing failed: retried
    rejected: list[str] = field(default_factory=list)  # not shaped like an event: not stored
    watermark: EventCursor | None = None

    @property
    def needs_attention(self) -> bool:
        return bool(self.failed or self.rejected)


class EventSync:
    """Reads Stripe's event list from the stream's watermark into the inbox."""

    def __init__(self, *, stream: str = STREAM, page_size: int = EVENTS_PAGE_SIZE) -> None:
        self.stream = stream
        self.page_size = page_size

    def watermark(self) -> SyncWatermark | None:
        return db.session.get(SyncWatermark, self.stream, populate_existing=True)

    def plan(self, since: timedelta | None = None, *, now: datetime | None = None) -> SyncPlan:
        """From `since` ago if given, else from the watermark; at most 30 days back."""
        now = now or utcnow()
        oldest = now - EVENT_RETENTION
        mark = self.watermark()
        if since is not None:
            if not timedelta(0) < since <= EVENT_RETENTION:
                raise ValueError("Stripe lists the events of the last 30 days only.")
            start = now - since
            return SyncPlan(
                after=None,
                since=start,
                starts_at=start,
                moves_watermark=mark is None or start <= mark.created,
            )
        if mark is None:
            return SyncPlan(
                after=None,
                since=oldest,
                starts_at=oldest,
                note="No sync has run yet: reading the 30 days of events Stripe keeps.",
            )
        if mark.created < oldest:
            return SyncPlan(
                after=None,
                since=oldest,
                starts_at=oldest,
                note=(
                    f"The last sync read up to {mark.created:%Y-%m-%d %H:%M} UTC, more than "
                    "30 days ago: Stripe no longer lists the events in between. Reading the "
                    "30 days it keeps; `flask stripe sweep-holds` re-reads the orders."
                ),
            )
        if mark.event_id is None:
            return SyncPlan(after=None, since=mark.created, starts_at=mark.created)
        return SyncPlan(
            after=EventCursor(mark.event_id, mark.created), since=None, starts_at=mark.created
        )

    def run(
        self, plan: SyncPlan, *, on_page: Callable[[datetime], None] | None = None
    ) -> SyncResult:
        """Feed every listed event to the inbox, committing the watermark with each page
        (the next page is read from Stripe while one is applied: `read_ahead`)."""
        result = SyncResult()
        listed = gateway().list_events(after=plan.after, since=plan.since, page_size=self.page_size)
        with closing(read_ahead(listed)) as pages:
            for page in pages:
                with unit_of_work():
                    self._feed(page, result)
                    last = page[-1]
                    created = datetime.fromtimestamp(int(last["created"]), UTC)
                    cursor = EventCursor(str(last["id"]), created)
                    if plan.moves_watermark:
                        self._advance(cursor.created, cursor.event_id)
                        result.watermark = cursor
                with unit_of_work():  # a first sync grows tables from nothing
                    planner_statistics.refresh()
                result.pages += 1
                log.info(
                    "stripe sync: page read",
                    extra={
                        "stream": self.stream,
                        "events": len(page),
                        "watermark": cursor.event_id,
                    },
                )
                if on_page is not None:
                    on_page(cursor.created)
        if result.pages == 0 and plan.since is not None and plan.moves_watermark:
            # Nothing listed: the next run need not look further back than this one did.
            with unit_of_work():
                self._advance(plan.since, None)
        return result

    def _feed(self, page: list[dict[str, Any]], result: SyncResult) -> None:
        """Receive a page's events of the types a handler takes, in one go."""
        wanted = []
        for event in page:
            result.read += 1
            if isinstance(event.get("type"), str) and registration(event["type"]) is None:
                result.skipped += 1
                continue
            try:
                check_event_shape(event)
            except WebhookRejected as rejected:  # refused before anything was written
                log.warning(
                    "stripe sync: not an event: %s",
                    rejected.message,
                    extra={"stripe_event_id": event.get("id")},
                )
                result.rejected.append(str(event.get("id")))
                continue
            wanted.append(event)
        # Committed with the page and its watermark: one commit per page, not per event.
        for receipt in store.receive_page(wanted, source=store.SYNC):
            if receipt.new:
                result.new += 1
            else:
                result.already += 1
            if receipt.status == EventStatus.FAILED.value:
                result.failed.append(receipt.event_id)

    def _advance(self, created: datetime, event_id: str | None) -> None:
        """Move the watermark to this event (or moment), never backwards."""
        mark = self.watermark()
        if mark is None:
            db.session.add(
                SyncWatermark(
                    name=self.stream, created=created, event_id=event_id, updated_at=utcnow()
                )
            )
        elif created > mark.created or (created == mark.created and event_id is not None):
            mark.created = created
            mark.event_id = event_id
            mark.updated_at = utcnow()
        db.session.flush()
