"""Keyset pagination, newest first, for any list keyed by an increasing integer id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from dashboard.extensions import db

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    newer_than: int | None  # cursor for the page before this one, if there is one
    older_than: int | None  # cursor for the page after this one, if there is one


def newest_first(
    query: Select[Row],
    id_column: InstrumentedAttribute[Any],
    *,
    older_than: int | None,
    newer_than: int | None,
    per_page: int,
) -> Page[Row]:
    """One page of `query`: a deep page costs what the first one does (no OFFSET)."""
    if newer_than is not None:
        fetched = list(
            db.session.scalars(
                query.where(id_column > newer_than).order_by(id_column.asc()).limit(per_page + 1)
            )
        )
        has_newer = len(fetched) > per_page
        rows = list(reversed(fetched[:per_page]))
        has_older = True
    else:
        if older_than is not None:
            query = query.where(id_column < older_than)
        fetched = list(db.session.scalars(query.order_by(id_column.desc()).limit(per_page + 1)))
        rows = fetched[:per_page]
        has_older = len(fetched) > per_page
        has_newer = older_than is not None
    if not rows:
        return Page(rows=[], newer_than=None, older_than=None)
    return Page(
        rows=rows,
        newer_than=getattr(rows[0], id_column.key) if has_newer else None,
        older_than=getattr(rows[-1], id_column.key) if has_older else None,
    )
