"""Reading Stripe's event list oldest first, a page at a time, from a cursor or a moment.

Stripe lists events newest first and keeps 30 days of them; localstripe lists them oldest
first and lacks `ending_before`. Each reader takes one function that fetches a page of
`GET /v1/events` (the gateway's), so the paging rules are kept apart from the HTTP call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stripe.params import EventListParams

# `GET /v1/events` lists only the last 30 days; its largest page is 100 events.
EVENT_RETENTION = timedelta(days=30)
EVENTS_PAGE_SIZE = 100


@dataclass(frozen=True)
class EventCursor:
    """A place in Stripe's event list: the last event read."""

    event_id: str
    created: datetime


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]  # in the order the server lists them
    has_more: bool


FetchPage = Callable[[EventListParams], EventPage]


def _check(after: EventCursor | None, since: datetime | None) -> None:
    if (after is None) == (since is None):
        raise ValueError("list_events needs either `after` or `since`.")


@dataclass(frozen=True)
class NewestFirst:
    """Stripe's list: newest first. `ending_before` pages towards newer events, and each
    page is reversed, which reads the whole list oldest first."""

    fetch: FetchPage

    def read(
        self, *, after: EventCursor | None, since: datetime | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        _check(after, since)
        anchor = after.event_id if after is not None else None
        if since is not None:
            first, anchor = self._start(since, page_size)
            if first:
                yield first
        while anchor is not None:
            page = self.fetch({"ending_before": anchor, "limit": page_size})
            events = page.events[::-1]
            if not events:
                return
            yield events
            anchor = events[-1]["id"] if page.has_more else None

    def _start(self, since: datetime, page_size: int) -> tuple[list[dict[str, Any]], str | None]:
        """Where a read from `since` starts: the oldest events to yield first, and the id
        of the event to page on from (the newest one before `since`, or the newest of them).
        """
        start = int(since.timestamp())
        before = self.fetch({"created": {"lt": start}, "limit": 1})
        if before.events:
            return [], str(before.events[0]["id"])
        # Nothing older is listed (a first sync, as a rule): the oldest event is the last one
        # of a walk through the list, newest first.
        params: EventListParams = {"created": {"gte": start}, "limit": page_size}
        oldest: list[dict[str, Any]] = []
        while True:
            page = self.fetch(params)
            if page.events:
                oldest = page.events
            if not page.has_more or not page.events:
                break
            params["starting_after"] = str(page.events[-1]["id"])
        if not oldest:
            return [], None
        return oldest[::-1], str(oldest[0]["id"])


@dataclass(frozen=True)
class OldestFirst:
    """localstripe's list: already oldest first, and without `ending_before`."""

    fetch: FetchPage

    def read(
        self, *, after: EventCursor | None, since: datetime | None, page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        _check(after, since)
        start = after.created if after is not None else since
        assert start is not None
        params: EventListParams = {"created": {"gte": int(start.timestamp())}, "limit": page_size}
        if after is not None:
            params["starting_after"] = after.event_id
        while True:
            page = self.fetch(params)
            events = page.events
            if events:
                yield events
            if not page.has_more or not events:
                return
            params["starting_after"] = str(events[-1]["id"])
