"""Row ids (32-bit integer primary keys on every table) and the order numbers people type."""

from __future__ import annotations

import re

# Every table's id is a 32-bit integer column: a larger number can name no row, and handing
# one to the database makes it raise.
MAX_ROW_ID = 2**31 - 1

_ORDER_NUMBER = re.compile(r"#?([0-9]{1,18})")


def parse_order_number(text: str) -> int | None:
    """The number in "#42" or "42", as typed in a search box; None if it is not one.

    The number may be larger than any row id (compare it with MAX_ROW_ID)."""
    match = _ORDER_NUMBER.fullmatch(text)
    return int(match.group(1)) if match else None


def row_id(text: str | None) -> int | None:
    """A row id written as plain digits (an order id in Stripe's metadata), if it can be one."""
    if text and text.isascii() and text.isdigit() and len(text) <= 10:
        number = int(text)
        return number if number <= MAX_ROW_ID else None
    return None
