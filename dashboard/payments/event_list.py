"""Reading Stripe's event list oldest first, a page at a time, from a cursor or a moment.

Stripe lists events newest first and keeps 30 days of them; localstripe lists them oldest
first and lacks `ending_before`. Each reader takes one function that fetches a page of
`GET /v1/events` (the gateway's), so the paging rules are kept apart from the HTTP call.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from stripe.params import EventListParams

from dashboard.payments.errors import PaymentError

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
T = TypeVar("T")
_END: Any = object()


def read_ahead(pages: Iterator[T]) -> Generator[T, None, None]:
    """The same pages in the same order, each next one read in a thread while the caller
    works on the one before: the sync applies and commits a page while Stripe answers for
    the next, instead of waiting for each answer in turn. At most one page is read ahead.
    An error reading a page is raised where that page would have been yielded, after the
    pages before it were handed over; if the caller stops early, the read in flight is
    finished (it only reads) and its page dropped."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stripe-read-ahead") as pool:
        upcoming = pool.submit(next, pages, _END)
        while True:
            page = upcoming.result()
            if page is _END:
                return
            upcoming = pool.submit(next, pages, _END)
            yield page


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
            _created(before.events[0], 0, start)
            return [], str(before.events[0]["id"])
        # Nothing older is listed (a first sync, as a rule). The second the oldest event
        # was created in is found by halving the span it lies in, asking each time for the
        # newest event of the older half (a page of one): about 22 small answers for 30
        # days, where walking the list, newest first, read all of it twice.
        newest = self.fetch({"created": {"gte": start}, "limit": 1})
        if not newest.events:
            return [], None
        low, high = start, _created(newest.events[0], start) + 1  # events in [low, high) only
        while high - low > 1:
            middle = (low + high) // 2
            older = self.fetch({"created": {"gte": low, "lt": middle}, "limit": 1})
            if older.events:
                high = _created(older.events[0], low, middle) + 1
            else:
                low = middle
        # The events of that second, newest first: walked to the last page, the oldest.
        params: EventListParams = {"created": {"gte": low, "lt": low + 1}, "limit": page_size}
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


def _created(event: dict[str, Any], low: int, high: int | None = None) -> int:
    """An event's `created` (Unix seconds), which must lie in [low, high): the search for
    the oldest event relies on the list honouring what it was asked for."""
    created = event.get("created")
    if type(created) is not int or created < low or (high is not None and created >= high):
        raise PaymentError(
            "Stripe's event list answered with an event outside the time asked for.",
            code="unexpected_answer",
        )
    return created


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
