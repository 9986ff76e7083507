"""What makes a product: an id safe in URLs and in agents' requests, a title, a price in a
currency the dashboard takes (parsed exactly as order prices are), an optional stock."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from dashboard.domain.money import (
    SUPPORTED_CURRENCIES,
    MoneyError,
    format_plain,
    normalize_currency,
    parse_major,
)

MAX_ID_LENGTH = 64
MAX_TITLE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 5000
# The stock column is a 32-bit integer; nobody counts a billion of one thing by hand.
MAX_STOCK = 1_000_000_000
_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_ID_LENGTH - 1}}}")
# C0/C1 controls (tab and line breaks aside: descriptions may have them) and the bidi
# overrides and isolates that make text read backwards, as the order form refuses them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class ProductError(ValueError):
    """A product that cannot be taken as given: `problems` maps each field to why."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(" ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class ProductDraft:
    """A product as entered, checked: price in minor units, currency upper-case."""

    id: str
    title: str
    description: str
    unit_amount: int
    currency: str
    stock: int | None


def check_id(text: str) -> str:
    """The id as given, or ProductError: letters, digits, "-" and "_", at most 64."""
    cleaned = text.strip()
    if not cleaned:
        raise ProductError({"id": "Give the product an id, e.g. mug-blue-350."})
    if len(cleaned) > MAX_ID_LENGTH:
        raise ProductError({"id": f"An id is at most {MAX_ID_LENGTH} characters."})
    if not _ID.fullmatch(cleaned):
        raise ProductError(
            {
                "id": "An id holds only letters A-Z, digits, '-' and '_', and starts with a "
                "letter or digit (it appears in links and in agents' requests)."
            }
        )
    return cleaned


def check_currency(text: str) -> str:
    try:
        code = normalize_currency(text)
    except MoneyError as error:
        raise ProductError({"currency": str(error)}) from error
    if code not in SUPPORTED_CURRENCIES:
        raise ProductError(
            {
                "currency": f"{code} is not a currency this dashboard takes "
                f"({', '.join(SUPPORTED_CURRENCIES)})."
            }
        )
    return code


def parse_product(
    *,
    id: str,
    title: str,
    price: str,
    currency: str,
    description: str = "",
    stock: str = "",
) -> ProductDraft:
    """A draft from text a person typed (a form, a flag, a CSV cell); every problem found
    at once in ProductError."""
    problems: dict[str, str] = {}
    product_id = _checked(check_id, id, problems)
    code = _checked(check_currency, currency, problems)
    clean_title = " ".join(title.split())
    if not clean_title:
        problems["title"] = "Give the product a title."
    elif len(clean_title) > MAX_TITLE_LENGTH or _CONTROL.search(clean_title):
        problems["title"] = (
            f"A title is at most {MAX_TITLE_LENGTH} characters, with no control characters."
        )
    clean_description = description.strip()
    if len(clean_description) > MAX_DESCRIPTION_LENGTH or _CONTROL.search(clean_description):
        problems["description"] = (
            f"A description is at most {MAX_DESCRIPTION_LENGTH:,} characters, "
            "with no control characters."
        )
    unit_amount = 0
    if code:
        try:
            unit_amount = parse_major(price, code)
        except MoneyError as error:
            problems["price"] = str(error)
        else:
            if unit_amount == 0:
                problems["price"] = "The price must be more than zero."
    count: int | None = None
    stock_text = stock.strip()
    if stock_text:
        digits = stock_text.isascii() and stock_text.isdigit() and len(stock_text) <= 10
        if not digits or int(stock_text) > MAX_STOCK:
            problems["stock"] = (
                f"Stock is a whole number from 0 to {MAX_STOCK:,}, or empty for not counted."
            )
        else:
            count = int(stock_text)
    if problems:
        raise ProductError(problems)
    return ProductDraft(
        id=product_id,
        title=clean_title,
        description=clean_description,
        unit_amount=unit_amount,
        currency=code,
        stock=count,
    )


def _checked(check: Callable[[str], str], text: str, problems: dict[str, str]) -> str:
    """`check(text)`, or "" with its problem noted."""
    try:
        return check(text)
    except ProductError as error:
        problems.update(error.problems)
        return ""


def price_text(unit_amount: int, currency: str) -> str:
    """The price as a person types it ("12.50"): what parse_product reads back exactly."""
    return format_plain(unit_amount, currency)
