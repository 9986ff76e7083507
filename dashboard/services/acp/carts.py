"""An agent's request body read into a cart: items priced from the catalog (unknown or
inactive items, quantities out of range and another currency refused with the protocol's
error and its JSONPath), and the buyer and fulfillment details kept as the schema has them.

Fields we do not use are ignored, as the protocol asks of servers (forward compatibility).
"""

from __future__ import annotations

import json
import re
from typing import Any

from dashboard.domain import acp
from dashboard.domain.money import MAX_AMOUNT_MINOR, SUPPORTED_CURRENCIES
from dashboard.extensions import db
from dashboard.models import Product
from dashboard.services.acp.answers import bad

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
BUYER_FIELDS = ("first_name", "last_name", "full_name", "email", "phone_number")
ADDRESS_FIELDS = ("name", "line_one", "line_two", "city", "state", "country", "postal_code")
ADDRESS_REQUIRED = ("name", "line_one", "city", "state", "country", "postal_code")
TEXT_MAX = 500


def json_object(raw: bytes, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object (an empty body is `{}` where the body is optional)."""
    if not raw.strip() and not required:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad("invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad("invalid_json", "The request body must be a JSON object.", "$")
    return body


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
        raise bad("invalid", f"{param} must be text of 1 to {TEXT_MAX} characters.", param)
    return value.strip()


def currency_of(body: dict[str, Any]) -> str:
    value = body.get("currency")
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in SUPPORTED_CURRENCIES:
        raise bad(
            "invalid_currency",
            f"currency must be one this shop takes: {', '.join(SUPPORTED_CURRENCIES)}.",
            "$.currency",
        )
    return code


def _quantity(item: dict[str, Any], param: str) -> int:
    quantity = item.get("quantity", 1)
    if isinstance(quantity, float) and quantity.is_integer():
        quantity = int(quantity)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise bad("invalid_quantity", "quantity must be a whole number.", param)
    if not 1 <= quantity <= acp.MAX_QUANTITY:
        raise bad(
            "invalid_quantity",
            f"quantity must be from 1 to {acp.MAX_QUANTITY}, not {quantity}.",
            param,
        )
    return quantity


def priced_lines(items: Any, currency: str) -> list[dict[str, Any]]:
    """The cart's lines, one per product (an item named twice adds up), priced now."""
    if not isinstance(items, list) or not items:
        raise bad("invalid", "line_items must list at least one item.", "$.line_items")
    if len(items) > acp.MAX_LINES:
        raise bad("invalid", f"At most {acp.MAX_LINES} items per session.", "$.line_items")
    lines: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(items):
        where = f"$.line_items[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise bad("invalid", "Each item needs an id.", f"{where}.id")
        quantity = _quantity(item, f"{where}.quantity")
        product = db.session.get(Product, item["id"]) if len(item["id"]) <= 64 else None
        if product is None or not product.active:
            raise bad(
                "invalid_item_id",
                f"The item ID '{item['id'][:64]}' is not for sale here.",
                f"{where}.id",
            )
        if product.currency.upper() != currency:
            raise bad(
                "currency_mismatch",
                f"The item '{product.id}' is priced in {product.currency.upper()}, not {currency}.",
                f"{where}.id",
            )
        line = lines.setdefault(
            product.id,
            {
                "product_id": product.id,
                "title": product.title,
                "quantity": 0,
                "unit_amount": product.unit_amount,
            },
        )
        line["quantity"] += quantity
        if line["quantity"] > acp.MAX_QUANTITY:
            raise bad(
                "invalid_quantity",
                f"At most {acp.MAX_QUANTITY} of one item per session.",
                f"{where}.quantity",
            )
        if product.stock is not None and line["quantity"] > product.stock:
            raise bad(
                "quantity_exceeded",
                f"Only {product.stock} of '{product.id}' are in stock.",
                f"{where}.quantity",
            )
    priced = list(lines.values())
    if sum(line["quantity"] * line["unit_amount"] for line in priced) > MAX_AMOUNT_MINOR:
        raise bad("amount_too_large", "The cart's total is more than one order may be.")
    if sum(line["quantity"] * line["unit_amount"] for line in priced) <= 0:
        raise bad("invalid", "The cart's total must be more than zero.", "$.line_items")
    return priced


def buyer_of(value: Any, param: str = "$.buyer") -> dict[str, str] | None:
    """The buyer's contact details (an email at least, as the schema requires)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad("invalid", "buyer must be an object.", param)
    buyer = {name: _text(value[name], f"{param}.{name}") for name in BUYER_FIELDS if name in value}
    if not EMAIL.fullmatch(buyer.get("email", "")):
        raise bad("invalid", "The buyer's email address is missing or invalid.", f"{param}.email")
    return buyer


def fulfillment_of(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    param = "$.fulfillment_details"
    if not isinstance(value, dict):
        raise bad("invalid", "fulfillment_details must be an object.", param)
    details: dict[str, Any] = {
        name: _text(value[name], f"{param}.{name}")
        for name in ("name", "phone_number", "email")
        if name in value
    }
    if "email" in details and not EMAIL.fullmatch(details["email"]):
        raise bad("invalid", "The email address is invalid.", f"{param}.email")
    address = value.get("address")
    if address is not None:
        if not isinstance(address, dict):
            raise bad("invalid", "address must be an object.", f"{param}.address")
        details["address"] = {
            name: _text(address[name], f"{param}.address.{name}")
            for name in ADDRESS_FIELDS
            if name in address and (name != "line_two" or address[name])
        }
        for name in ADDRESS_REQUIRED:
            if name not in details["address"]:
                raise bad("missing", f"The address needs {name}.", f"{param}.address.{name}")
    return details


def no_fulfillment_choice(value: Any) -> None:
    """This shop offers no fulfillment options through the API: none can be chosen."""
    if value not in (None, []):
        raise bad(
            "invalid",
            "This shop offers no fulfillment options to choose from.",
            "$.selected_fulfillment_options[0].option_id",
        )
