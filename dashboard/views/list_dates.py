"""A list page's created-date filter: two days from the query string, and the instants
they span (the days of the time zone given; UTC until people have one of their own)."""

from __future__ import annotations

from datetime import UTC, date, tzinfo

from flask import request

from dashboard.domain.days import Instants, NotADay, days_span, parse_day
from dashboard.views.forms import BadListQuery


def created_days() -> dict[str, str]:
    """The two days as typed (`created_from`, `created_to`), to show back in the form."""
    return {
        "created_from": request.args.get("created_from", "").strip(),
        "created_to": request.args.get("created_to", "").strip(),
    }


def created_range_arg(tz: tzinfo = UTC) -> Instants:
    """From the start of the `created_from` day to the end of the `created_to` day in `tz`
    (either may be left out); BadListQuery if a day is not one or they are the wrong way
    round."""
    typed = created_days()
    first = _day(typed["created_from"], "created from")
    last = _day(typed["created_to"], "created to")
    if first is not None and last is not None and first > last:
        raise BadListQuery(
            f"The “created from” day ({first.isoformat()}) is after the “created to” day "
            f"({last.isoformat()}): no order can be created in between. Swap them."
        )
    return days_span(first, last, tz)


def _day(text: str, label: str) -> date | None:
    if not text:
        return None
    try:
        return parse_day(text)
    except NotADay:
        raise BadListQuery(
            f"The “{label}” day is not a date: pick one, or write it as YYYY-MM-DD "
            "(such as 2026-12-06)."
        ) from None
