"""The pure rules of subscriptions (domain/subscriptions.py): what plan Stripe takes, and
which of Stripe's reports of a subscription or an invoice stands."""

from __future__ import annotations

import itertools

import pytest

from dashboard.domain.money import MAX_AMOUNT_MINOR
from dashboard.domain.subscriptions import (
    InvoiceStatus,
    PlanInvalid,
    SubscriptionStatus,
    cadence,
    check_plan,
    invoice_moves,
    report_order,
)


@pytest.mark.parametrize(("interval", "count"), [("month", 1), ("month", 12), ("year", 1)])
def test_intervals_within_a_year_are_taken(interval, count):
    plan = check_plan(" Box ", 1500, "usd", interval, count)
    assert (plan.name, plan.currency, plan.interval.value, plan.interval_count) == (
        "Box",
        "USD",
        interval,
        count,
    )


@pytest.mark.parametrize(
    ("interval", "count"),
    [
        ("month", 13),
        ("month", 0),
        ("month", -1),
        ("year", 2),
        ("year", 0),
        ("week", 1),
        ("day", 30),
    ],
)
def test_intervals_stripe_refuses_are_refused(interval, count):
    with pytest.raises(PlanInvalid):
        check_plan("Box", 1500, "USD", interval, count)


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT_MINOR + 1])
def test_prices_stripe_refuses_are_refused(amount):
    with pytest.raises(PlanInvalid):
        check_plan("Box", amount, "USD", "month", 1)


def test_the_largest_price_stripe_takes_is_taken():
    assert check_plan("Box", MAX_AMOUNT_MINOR, "JPY", "year", 1).amount == MAX_AMOUNT_MINOR


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_a_plan_needs_a_name_of_reasonable_length(name):
    with pytest.raises(PlanInvalid):
        check_plan(name, 100, "USD", "month", 1)


def test_cadence_in_words():
    assert cadence("month", 1) == "every month"
    assert cadence("month", 3) == "every 3 months"
    assert cadence("year", 1) == "every year"


def test_an_end_outranks_everything_then_the_period_then_time_then_rank():
    canceled = report_order(SubscriptionStatus.CANCELED, 100, 1, "evt_a")
    renewed = report_order(SubscriptionStatus.ACTIVE, 200, 50, "evt_b")
    past_due = report_order(SubscriptionStatus.PAST_DUE, 100, 60, "evt_c")
    active_same_second = report_order(SubscriptionStatus.ACTIVE, 100, 60, "evt_d")
    assert canceled > renewed > past_due > active_same_second
    reports = [canceled, renewed, past_due, active_same_second]
    assert {max(order) for order in itertools.permutations(reports)} == {canceled}


def test_invoices_move_forward_only():
    order = [InvoiceStatus.DRAFT, InvoiceStatus.OPEN, InvoiceStatus.PAID]
    for before, after in itertools.combinations(order, 2):
        assert invoice_moves(before, after) and not invoice_moves(after, before)
    assert invoice_moves(InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.PAID)
    assert not invoice_moves(InvoiceStatus.PAID, InvoiceStatus.VOID)
    assert not invoice_moves(InvoiceStatus.VOID, InvoiceStatus.PAID)
