"""Order states and the rules about an order's contents that hold everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dashboard.domain.money import MAX_AMOUNT_MINOR, MoneyError


class OrderState(StrEnum):
    """Where an order stands. The payment transitions between them come with payments."""

    OPEN = "open"  # created, awaiting the buyer's payment
    PROCESSING = "processing"  # the buyer started paying; Stripe has not decided
    AUTHORIZED = "authorized"  # a hold on the buyer's card, not yet a charge
    # Multicapture: some of the hold captured, the rest still held for later captures.
    PARTLY_CAPTURED = "partly_captured"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"  # the hold was released by staff
    EXPIRED = "expired"  # the hold or the checkout lapsed
    FAILED = "failed"

    @property
    def label(self) -> str:
        if self is OrderState.PARTLY_CAPTURED:
            return "Partly captured, rest still held"
        return self.value.replace("_", " ").capitalize()


MAX_QUANTITY = 10_000


@dataclass(frozen=True)
class LineDraft:
    """One order line as entered: description x quantity x unit price (minor units)."""

    description: str
    quantity: int
    unit_amount: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


def order_total(lines: list[LineDraft]) -> int:
    """The total of the lines, refusing an empty, free or over-large order."""
    if not lines:
        raise MoneyError("An order needs at least one line.")
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise MoneyError(f"Quantity must be between 1 and {MAX_QUANTITY:,}.")
        if line.unit_amount < 0:
            raise MoneyError("A unit price cannot be negative.")
    total = sum(line.amount for line in lines)
    if total <= 0:
        raise MoneyError("The order total must be more than zero.")
    if total > MAX_AMOUNT_MINOR:
        raise MoneyError("The order total is above the largest amount Stripe accepts.")
    return total
