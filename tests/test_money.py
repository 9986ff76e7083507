"""Money parsing and formatting: exact conversion by each currency's exponent."""

import pytest

from dashboard.domain.money import (
    MAX_AMOUNT_MINOR,
    MoneyError,
    exponent,
    format_minor,
    format_plain,
    parse_major,
)
from dashboard.domain.orders import LineDraft, order_total


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("0.01", "usd", 1),
        (" 7.10 ", "EUR", 710),
        ("10", "JPY", 10),
        ("1000", "JPY", 1000),
        ("10.", "JPY", 10),
        ("1.005", "KWD", 1005),
        ("1.5", "KWD", 1500),
        ("0.001", "BHD", 1),
        ("999999.99", "USD", 99_999_999),
        # Floats would get these wrong: 0.1 + 0.2, 1.005 * 100, 19.99 * 100.
        ("0.30", "USD", 30),
        ("19.99", "USD", 1999),
        ("1.15", "USD", 115),
    ],
)
def test_parse_major_is_exact(text, currency, minor):
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("10.5", "JPY", "JPY has no minor unit"),
        ("1.0005", "KWD", "at most 3 decimal places"),
        ("12.505", "USD", "at most 2 decimal places"),
        ("", "USD", "Enter an amount"),
        ("   ", "USD", "Enter an amount"),
        ("-5", "USD", "cannot be negative"),
        ("1,000", "USD", "digits with a dot"),
        ("12,50", "EUR", "digits with a dot"),
        ("1e3", "USD", "digits with a dot"),
        ("$12", "USD", "digits with a dot"),
        ("NaN", "USD", "digits with a dot"),
        ("\uff11\uff12", "USD", "digits with a dot"),  # full-width digits are not ASCII digits
        (".5", "USD", "digits with a dot"),
        ("1000000.00", "USD", "above the largest"),
        ("100000000", "JPY", "above the largest"),
    ],
)
def test_parse_major_rejects_with_a_reason(text, currency, message):
    with pytest.raises(MoneyError, match=message):
        parse_major(text, currency)


def test_unknown_currency_code_is_rejected():
    with pytest.raises(MoneyError, match="not a currency code"):
        parse_major("1", "US")


@pytest.mark.parametrize(("currency", "places"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("krw", 0)])
def test_exponent(currency, places):
    assert exponent(currency) == places


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (1250, "USD", "$12.50"),
        (123450, "USD", "$1,234.50"),
        (5, "USD", "$0.05"),
        (1000, "JPY", "¥1,000"),
        (1005, "KWD", "KWD 1.005"),
        (12345678, "CHF", "CHF 123,456.78"),
        (-1250, "EUR", "-€12.50"),
        (0, "GBP", "£0.00"),
    ],
)
def test_format_minor(minor, currency, shown):
    assert format_minor(minor, currency) == shown


@pytest.mark.parametrize(("minor", "currency"), [(1250, "USD"), (1000, "JPY"), (1005, "KWD")])
def test_format_plain_round_trips(minor, currency):
    assert parse_major(format_plain(minor, currency), currency) == minor


def test_order_total_sums_lines():
    lines = [LineDraft("A", 2, 1250), LineDraft("B", 1, 1)]
    assert order_total(lines) == 2501


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "at least one line"),
        ([LineDraft("Free", 1, 0)], "more than zero"),
        ([LineDraft("Zero", 0, 100)], "Quantity"),
        ([LineDraft("Lots", 10_001, 1)], "Quantity"),
        ([LineDraft("Neg", 1, -1)], "negative"),
        ([LineDraft("Big", 2, MAX_AMOUNT_MINOR)], "largest amount"),
    ],
)
def test_order_total_refuses(lines, message):
    with pytest.raises(MoneyError, match=message):
        order_total(lines)
