"""Values read from Stripe's objects, each checked for its type and shape before it is
kept: a hostile or garbled payload yields None ("not reported"), never a crash, an
overflow or markup."""

from __future__ import annotations

import re
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any

from dashboard.domain.money import MAX_AMOUNT_MINOR

# Lower-case words with underscores: Stripe's enum values (brands, checks, statuses, ...).
_ENUM = re.compile(r"[a-z][a-z0-9_]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_LAST4 = re.compile(r"[0-9]{4}")
_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
# Text Stripe writes for people (seller messages, descriptors, failure messages): printable,
# bounded. Control characters would only be noise on a page.
TEXT_LIMIT = 300


def only(cls: type, data: Any) -> dict[str, Any]:
    known = {item.name for item in fields(cls)}
    return {key: value for key, value in dict(data).items() if key in known}


def obj(value: Any) -> dict[str, Any]:
    """A nested object, or an empty one when Stripe sent something else (or nothing)."""
    return value if isinstance(value, dict) else {}


def object_id(value: Any) -> str | None:
    """An id, from a field that holds either the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def enum(value: Any) -> str | None:
    return value if isinstance(value, str) and _ENUM.fullmatch(value) else None


def currency(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and _CURRENCY.fullmatch(value) else None


def amount(value: Any) -> int | None:
    """A non-negative whole number Stripe could have sent (never a bool or a float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_AMOUNT_MINOR * 1000 else None


def signed(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if abs(value) <= MAX_AMOUNT_MINOR * 1000 else None


def bounded(value: Any, high: int, *, low: int = 0) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def text(value: Any, limit: int = TEXT_LIMIT) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()
    return cleaned[:limit] or None


def rate(value: Any) -> str | None:
    """An exchange rate as Stripe wrote it (a JSON number), kept as exact decimal text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        return None
    if not exact.is_finite() or exact <= 0 or exact == 1:
        return None
    return format(exact.normalize(), "f")


def last4(value: Any) -> str | None:
    return value if isinstance(value, str) and _LAST4.fullmatch(value) else None


def country(value: Any) -> str | None:
    return value if isinstance(value, str) and _COUNTRY.fullmatch(value) else None
