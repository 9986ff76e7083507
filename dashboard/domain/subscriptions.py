"""Subscription rules, pure: what a plan may be (Stripe's limits on a recurring price), how
a subscription's and an invoice's statuses move, and which of Stripe's reports of a
subscription is the latest, whatever order they arrive in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dashboard.domain.money import (
    MAX_AMOUNT_MINOR,
    SUPPORTED_CURRENCIES,
    MoneyError,
    format_minor,
    normalize_currency,
)

MAX_PLAN_NAME = 200
# Stripe refuses a recurring price whose interval is longer than a year in all: at most
# 12 months, or 1 year (and 52 weeks, which the form does not offer).
MAX_INTERVAL_COUNT = {"month": 12, "year": 1}


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class PlanInvalid(ValueError):
    """A plan Stripe would refuse, or that could not charge anything; says why."""


@dataclass(frozen=True)
class PlanDraft:
    name: str
    amount: int  # minor units
    currency: str  # ISO code, upper case
    interval: Interval
    interval_count: int


def check_plan(
    name: str, amount: int, currency: str, interval: str, interval_count: int
) -> PlanDraft:
    """The plan as Stripe will take it, or PlanInvalid with the first thing wrong."""
    name = name.strip()
    if not name:
        raise PlanInvalid("Give the plan a name the buyer will recognise.")
    if len(name) > MAX_PLAN_NAME:
        raise PlanInvalid(f"A plan's name takes at most {MAX_PLAN_NAME} characters.")
    try:
        code = normalize_currency(currency)
    except MoneyError as error:
        raise PlanInvalid(str(error)) from error
    if code not in SUPPORTED_CURRENCIES:
        raise PlanInvalid(f"{code} is not a currency this dashboard sells in.")
    if amount <= 0:
        raise PlanInvalid("A plan's price must be more than zero.")
    if amount > MAX_AMOUNT_MINOR:
        raise PlanInvalid(
            f"Stripe charges at most {format_minor(MAX_AMOUNT_MINOR, code)} at a time."
        )
    if interval not in MAX_INTERVAL_COUNT:
        raise PlanInvalid("Bill every month or every year.")
    most = MAX_INTERVAL_COUNT[interval]
    if not 1 <= interval_count <= most:
        raise PlanInvalid(
            f"Stripe bills at least once a year: every 1 to {most} {interval}s."
            if interval == "month"
            else "Stripe bills at least once a year: every 1 year."
        )
    return PlanDraft(name, amount, code, Interval(interval), interval_count)


def cadence(interval: str, interval_count: int) -> str:
    """'every month', 'every 3 months', 'every year'."""
    if interval_count == 1:
        return f"every {interval}"
    return f"every {interval_count} {interval}s"


# -- subscriptions ------------------------------------------------------------------------


class SubscriptionStatus(StrEnum):
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"


ENDED = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})

# Within one billing period, the later of two reports said in the same second: a
# subscription starts (incomplete, trialing), runs (active), falls behind (past_due,
# unpaid). A renewal starts a new period, which outranks everything of the one before;
# an end outranks everything.
_RANK = {
    SubscriptionStatus.INCOMPLETE: 0,
    SubscriptionStatus.TRIALING: 1,
    SubscriptionStatus.ACTIVE: 2,
    SubscriptionStatus.PAUSED: 3,
    SubscriptionStatus.PAST_DUE: 4,
    SubscriptionStatus.UNPAID: 5,
    SubscriptionStatus.INCOMPLETE_EXPIRED: 9,
    SubscriptionStatus.CANCELED: 9,
}

STATUS_WORDS = {
    SubscriptionStatus.INCOMPLETE: "Waiting for the first payment",
    SubscriptionStatus.INCOMPLETE_EXPIRED: "Never started (first payment not made)",
    SubscriptionStatus.TRIALING: "In its free trial",
    SubscriptionStatus.ACTIVE: "Active",
    SubscriptionStatus.PAST_DUE: "Renewal payment failed",
    SubscriptionStatus.UNPAID: "Unpaid",
    SubscriptionStatus.PAUSED: "Paused",
    SubscriptionStatus.CANCELED: "Canceled",
}


def status_of(value: str) -> SubscriptionStatus | None:
    try:
        return SubscriptionStatus(value)
    except ValueError:
        return None


@dataclass(frozen=True, order=True)
class ReportOrder:
    """Where one report of a subscription stands among all of them: the greatest is the
    truth. Compared field by field, so the result never depends on arrival order."""

    ended: bool
    period_start: int
    said_at: int  # the event's `created` (whole seconds)
    rank: int
    event_id: str  # the last tie-break: deterministic, not meaningful


def report_order(
    status: SubscriptionStatus, period_start: int | None, said_at: int, event_id: str
) -> ReportOrder:
    return ReportOrder(status in ENDED, period_start or 0, said_at, _RANK[status], event_id)


# -- invoices -----------------------------------------------------------------------------


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    UNCOLLECTIBLE = "uncollectible"
    PAID = "paid"
    VOID = "void"


# An invoice only moves forward: drafted, finalized (open), then paid or voided; marked
# uncollectible it can still be paid.
_INVOICE_RANK = {
    InvoiceStatus.DRAFT: 0,
    InvoiceStatus.OPEN: 1,
    InvoiceStatus.UNCOLLECTIBLE: 2,
    InvoiceStatus.PAID: 3,
    InvoiceStatus.VOID: 3,
}

INVOICE_WORDS = {
    InvoiceStatus.DRAFT: "Draft",
    InvoiceStatus.OPEN: "Due",
    InvoiceStatus.UNCOLLECTIBLE: "Uncollectible",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.VOID: "Void",
}


def invoice_status_of(value: str) -> InvoiceStatus | None:
    try:
        return InvoiceStatus(value)
    except ValueError:
        return None


def invoice_moves(current: InvoiceStatus, reported: InvoiceStatus) -> bool:
    """Whether an invoice at `current` takes the `reported` status (forward only)."""
    return _INVOICE_RANK[reported] > _INVOICE_RANK[current]
