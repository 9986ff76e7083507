"""The Disputes page: every dispute, soonest evidence deadline first, a page at a time;
or only the open ones of one currency, as Home counts them (`open_in`).

Keyset-paginated on the (evidence_due_by, id) index: a page is read from where the last one
ended, so a deep page costs what the first one does. Disputes whose bank allows no
response (no deadline) come after all the others, by id, off the same index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Integer, func, literal, select, tuple_

from dashboard.domain.stripe_mapping import OPEN_DISPUTES
from dashboard.extensions import db
from dashboard.models import Dispute
from dashboard.models.base import UTCDateTime


class BadCursor(ValueError):
    """A page cursor that is not one this list wrote."""


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: its last dispute's deadline (None: it has none) and id."""

    due_by: datetime | None
    id: int

    def text(self) -> str:
        due = "none" if self.due_by is None else str(int(self.due_by.timestamp()))
        return f"{due}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        due, _, ident = text.partition(".")
        if not ident.isascii() or not ident.isdigit() or len(ident) > 10:
            raise BadCursor(text)
        if due == "none":
            return cls(None, int(ident))
        if not due.isascii() or not due.isdigit() or len(due) > 11:
            raise BadCursor(text)
        try:
            return cls(datetime.fromtimestamp(int(due), UTC), int(ident))
        except (OverflowError, OSError, ValueError):
            raise BadCursor(text) from None


@dataclass(frozen=True)
class DisputePage:
    rows: list[Dispute]
    next: Cursor | None  # where the next page starts, if there is one


def list_disputes(
    *, after: Cursor | None = None, per_page: int = 50, open_in: str | None = None
) -> DisputePage:
    """One page of disputes by evidence deadline (then id), after `after`: every dispute,
    or the open ones in the currency `open_in` (Home's figure; there are few of them, read
    off the (status, evidence_due_by) index)."""
    rows: list[Dispute] = []
    only: list[ColumnElement[bool]] = []
    if open_in is not None:
        only = [Dispute.status.in_(OPEN_DISPUTES), func.upper(Dispute.currency) == open_in]
    if after is None or after.due_by is not None:
        dated = select(Dispute).where(Dispute.evidence_due_by.is_not(None), *only)
        if after is not None:
            dated = dated.where(
                tuple_(Dispute.evidence_due_by, Dispute.id)
                > tuple_(literal(after.due_by, UTCDateTime()), literal(after.id, Integer()))
            )
        rows = list(
            db.session.scalars(
                dated.order_by(Dispute.evidence_due_by, Dispute.id).limit(per_page + 1)
            )
        )
    if len(rows) <= per_page:
        # The rest: no deadline, by id (the index keeps NULLs together, ordered by id).
        undated = select(Dispute).where(Dispute.evidence_due_by.is_(None), *only)
        if after is not None and after.due_by is None:
            undated = undated.where(Dispute.id > after.id)
        # Ordered as the index is (its deadline part all NULL), so it is read in order.
        undated = undated.order_by(Dispute.evidence_due_by, Dispute.id)
        rows += db.session.scalars(undated.limit(per_page + 1 - len(rows)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    last = rows[-1] if rows and more else None
    return DisputePage(
        rows=rows, next=Cursor(last.evidence_due_by, last.id) if last is not None else None
    )
