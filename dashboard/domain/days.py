"""Days people pick (a date input's YYYY-MM-DD), and the instants a span of them covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class NotADay(ValueError):
    """Text that is no YYYY-MM-DD date of the calendar."""


def parse_day(text: str) -> date:
    """A day as a date input sends it: YYYY-MM-DD, ASCII digits, a date that exists."""
    if not _ISO_DAY.fullmatch(text):
        raise NotADay(text)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise NotADay(text) from None


@dataclass(frozen=True)
class Instants:
    """From `start` (included) to `end` (excluded), both UTC; None is open-ended."""

    start: datetime | None
    end: datetime | None


def _day_start(day: date, tz: tzinfo) -> datetime | None:
    """When `day` begins in `tz`, in UTC; None past the ends of the calendar."""
    try:
        return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    except OverflowError:
        return None


def days_span(first: date | None, last: date | None, tz: tzinfo = UTC) -> Instants:
    """The instants from the start of `first` to the end of `last` (both days included) in
    `tz`: the day after `last` is where it stops."""
    start = _day_start(first, tz) if first is not None else None
    end = None
    if last is not None and last < date.max:
        end = _day_start(last + timedelta(days=1), tz)
    return Instants(start=start, end=end)
