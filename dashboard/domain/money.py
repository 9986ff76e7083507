"""Money as integer minor units with its currency beside it, never a float."""

from __future__ import annotations

import re
from decimal import Decimal

# Stripe's zero-decimal and three-decimal currencies; every other supported one has two.
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

# The currencies the order form offers. Kept short on purpose: each one is tested.
SUPPORTED_CURRENCIES: tuple[str, ...] = (
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "CHF",
    "JPY",
    "KRW",
    "KWD",
    "BHD",
)

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "KRW": "₩"}

# Stripe accepts at most eight digits of minor units for a charge (99,999,999).
MAX_AMOUNT_MINOR = 99_999_999

_AMOUNT = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]*))?")


class MoneyError(ValueError):
    """An amount a person typed that cannot be taken as money; the message says why."""


def exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (0, 2 or 3)."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def normalize_currency(currency: str) -> str:
    """Upper-case ISO 4217 code; rejects anything that is not three letters."""
    code = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise MoneyError(f"{currency!r} is not a currency code.")
    return code


def parse_major(text: str, currency: str) -> int:
    """Turn "12.50" typed by a person into minor units (1250), exactly.

    Accepts digits with at most one dot and no more decimals than the currency has.
    Thousands separators are refused rather than guessed: "1,000" means one thousand in
    one country and one in another.
    """
    code = normalize_currency(currency)
    places = exponent(code)
    cleaned = text.strip()
    if not cleaned:
        raise MoneyError("Enter an amount.")
    if cleaned.startswith("-"):
        raise MoneyError("The amount cannot be negative.")
    match = _AMOUNT.fullmatch(cleaned)
    if match is None:
        example = {0: "1200", 2: "12.50", 3: "12.500"}[places]
        raise MoneyError(f"Enter the amount as digits with a dot for decimals, e.g. {example}.")
    frac = match.group("frac") or ""
    if len(frac) > places:
        if places == 0:
            raise MoneyError(f"{code} has no minor unit: enter a whole amount.")
        raise MoneyError(f"{code} amounts have at most {places} decimal places.")
    minor = int(Decimal(match.group("whole") + "." + (frac or "0")).scaleb(places))
    if minor > MAX_AMOUNT_MINOR:
        raise MoneyError(
            f"The amount is above the largest Stripe accepts "
            f"({format_minor(MAX_AMOUNT_MINOR, code)})."
        )
    return minor


def format_plain(amount_minor: int, currency: str) -> str:
    """Minor units as a plain decimal string in major units: 1250 USD -> "12.50"."""
    places = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**places)
    if places == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{places}d}"


def format_minor(amount_minor: int, currency: str) -> str:
    """Minor units for display: "$1,234.50", "¥1,000", "KWD 1.005"."""
    code = normalize_currency(currency)
    places = exponent(code)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**places)
    number = f"{whole:,}" + (f".{frac:0{places}d}" if places else "")
    symbol = SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{code} {number}"
