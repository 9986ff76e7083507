"""What makes a product (domain/catalog.py): pure rules, the same for the page, the
command line and a CSV file. Prices are read exactly as the order form reads them."""

import pytest

from dashboard.domain.catalog import ProductError, parse_product, price_text
from dashboard.domain.money import parse_major


def product(**overrides):
    fields = {"id": "mug-blue_350", "title": "Blue mug", "price": "12.50", "currency": "usd"}
    fields.update(overrides)
    return parse_product(**fields)


def test_a_good_product_is_read_exactly():
    draft = product(description="  Holds 350 ml. ", stock="7")
    assert (draft.id, draft.title, draft.unit_amount, draft.currency) == (
        "mug-blue_350",
        "Blue mug",
        1250,
        "USD",
    )
    assert (draft.description, draft.stock) == ("Holds 350 ml.", 7)
    assert product().stock is None  # not counted


@pytest.mark.parametrize(
    ("currency", "price", "minor"),
    [("usd", "12.5", 1250), ("JPY", "1000", 1000), ("kwd", "1.005", 1005), ("EUR", "0.01", 1)],
)
def test_prices_are_parsed_as_order_prices_are(currency, price, minor):
    assert product(currency=currency, price=price).unit_amount == minor
    assert parse_major(price, currency) == minor
    # What the form shows back reads back to the same amount.
    assert parse_major(price_text(minor, currency.upper()), currency) == minor


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"id": ""}, "id", "Give the product an id"),
        ({"id": "mug blue"}, "id", "only letters A-Z, digits"),
        ({"id": "mug/blue"}, "id", "only letters A-Z, digits"),
        ({"id": "-mug"}, "id", "starts with a letter or digit"),
        ({"id": "mügg"}, "id", "only letters A-Z"),
        ({"id": "mug%2F"}, "id", "only letters A-Z"),
        ({"id": "x" * 65}, "id", "at most 64"),
        ({"title": "  "}, "title", "Give the product a title"),
        ({"title": "x" * 201}, "title", "at most 200"),
        ({"price": "0"}, "price", "more than zero"),
        ({"price": "0.00"}, "price", "more than zero"),
        ({"price": "-1.00"}, "price", "cannot be negative"),
        ({"price": "12.505"}, "price", "at most 2 decimal places"),
        ({"price": "10.5", "currency": "JPY"}, "price", "JPY has no minor unit"),
        ({"price": "1,000"}, "price", "digits with a dot"),
        ({"price": "1000000.00"}, "price", "above the largest Stripe accepts"),
        ({"price": ""}, "price", "Enter an amount"),
        ({"currency": "XXX"}, "currency", "XXX is not a currency this dashboard takes"),
        ({"currency": "dollars"}, "currency", "is not a currency code"),
        ({"stock": "-1"}, "stock", "whole number from 0"),
        ({"stock": "1.5"}, "stock", "whole number from 0"),
        ({"stock": "9" * 5000}, "stock", "whole number from 0"),
        ({"description": "bad\x00"}, "description", "no control characters"),
    ],
)
def test_what_cannot_be_a_product_says_which_field_and_why(overrides, field, message):
    with pytest.raises(ProductError) as refused:
        product(**overrides)
    assert message in refused.value.problems[field]


def test_every_problem_is_said_at_once():
    with pytest.raises(ProductError) as refused:
        parse_product(id="a b", title="", price="0", currency="usd", stock="x")
    assert set(refused.value.problems) == {"id", "title", "price", "stock"}


@pytest.mark.parametrize("text", ["Mug\u202egnp.exe", "Mug\x1b[31m", "Mug\u2066x\u2069", "A\x9b2J"])
def test_titles_and_descriptions_refuse_invisible_controls(text):
    for field in ("title", "description"):
        with pytest.raises(ProductError) as refused:
            product(**{field: text})
        assert "no control characters" in refused.value.problems[field]
    assert product(description="Line one\nLine two\tend").description == "Line one\nLine two\tend"
