"""What the order page says a payment is, from Stripe-shaped objects: the card (with and
without a wallet), 3-D Secure, the address and CVC checks, Radar's score, fees and net in a
settlement currency other than the charge's, IC+ accounts with no fee reported, balance
transactions that arrive later, refunds made outside the dashboard.

Stripe's HTTP is the double at the SDK's boundary (localstripe has none of these fields);
webhooks are signed as Stripe signs them. Viewing the page never calls Stripe.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from dashboard.models import Role
from dashboard.payments.charges import (
    Card,
    ChargeFacts,
    balance_facts,
    charge_facts,
    failed_attempt,
    refund_details,
)
from tests.support.database import reload
from tests.support.stripe import AMOUNT, charge, intent, refund, send_event, stripe_event
from tests.support.web import move_money

PI = "pi_test_hold"


def apple_pay_mastercard() -> dict[str, Any]:
    """A fresh copy each time: tests change it."""
    return copy.deepcopy(_APPLE_PAY_MASTERCARD)


_APPLE_PAY_MASTERCARD = {
    "payment_method_details": {
        "type": "card",
        "card": {
            "brand": "mastercard",
            "last4": "4444",
            "exp_month": 3,
            "exp_year": 2031,
            "funding": "debit",
            "country": "DE",
            "network": "mastercard",
            "wallet": {"type": "apple_pay", "apple_pay": {}},
            "three_d_secure": {"result": "authenticated", "version": "2.2.0"},
            "checks": {
                "cvc_check": "pass",
                "address_line1_check": "fail",
                "address_postal_code_check": "unavailable",
            },
        },
    },
    "outcome": {
        "network_status": "approved_by_network",
        "risk_level": "elevated",
        "risk_score": 67,
        "seller_message": "Payment complete.",
        "type": "authorized",
        "reason": None,
    },
    "calculated_statement_descriptor": "SHOP.EXAMPLE",
    "receipt_email": "buyer@example.com",
}


def on_charge(make_order, state: str):
    """An order of AMOUNT whose payment is PI with the charge ch_test_hold: held, or captured
    in full."""
    amounts = (
        {"amount_capturable": AMOUNT} if state == "authorized" else {"amount_captured": AMOUNT}
    )
    return make_order(
        state=state,
        stripe_payment_intent_id=PI,
        stripe_charge_id="ch_test_hold",
        amount_authorized=AMOUNT,
        **amounts,
    )


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</section>", start)]


def fact(page: str, label: str) -> str:
    match = re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S)
    assert match, f"no {label!r} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_a_wallet_card_its_checks_radar_and_fees_in_another_currency(
    live_app, stripe_http, signed_in, authorized
):
    stripe_http.charge_fields = apple_pay_mastercard()
    stripe_http.settlement = {
        "currency": "eur",
        "exchange_rate": 0.92,
        "fee_details": [
            {
                "amount": 88,
                "application": None,
                "currency": "eur",
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            },
            {
                "amount": 17,
                "application": None,
                "currency": "eur",
                "description": "VAT",
                "type": "tax",
            },
        ],
    }
    staff = signed_in(Role.STAFF, quick_hash=True)
    move_money(staff, f"/orders/{authorized.id}/capture", {"amount": "30.00"})
    assert reload(live_app, authorized.id).amount_captured == AMOUNT

    calls = len(stripe_http.calls)
    page = staff.get(f"/orders/{authorized.id}").get_data(as_text=True)
    assert len(stripe_http.calls) == calls  # viewing the order asks Stripe nothing

    details = section(page, "payment-details")
    assert fact(details, "Card") == "Mastercard •••• 4444"
    assert fact(details, "Expires") == "03/2031"
    assert fact(details, "Funding") == "Debit"
    assert fact(details, "Issued in") == "DE"
    assert fact(details, "Wallet") == "Apple Pay"
    assert fact(details, "3-D Secure") == "Authenticated by the bank (version 2.2.0)"
    assert fact(details, "CVC check") == "Passed"
    assert fact(details, "Address line check") == "Failed"
    assert fact(details, "Postal code check") == "Unavailable"
    assert fact(details, "Radar risk") == "Elevated (score 67 of 100)"
    assert fact(details, "Network") == "Approved by the card network"
    assert fact(details, "Stripe says") == "Payment complete."
    assert fact(details, "Statement descriptor") == "SHOP.EXAMPLE"
    assert fact(details, "Receipt email") == "buyer@example.com"
    assert f'href="https://dashboard.stripe.com/test/payments/{PI}"' in details

    # $30.00 charged; settled as €27.60 at 0.92, less €1.05 of fees: each labelled.
    panel = section(page, "payment-panel")
    assert fact(panel, "Gross captured") == "$30.00 USD"
    assert fact(panel, "Stripe fees") == "€1.05 EUR"
    assert fact(panel, "Net to your balance") == "€26.55 EUR"
    capture_row = re.search(r'<tr class="movement-capture[^"]*">(.*?)</tr>', panel, re.S).group(1)
    assert re.search(r'data-label="Amount">\$30\.00<', capture_row)
    assert '<span class="fee">€1.05 EUR</span><small class="net">€26.55 EUR</small>' in capture_row


def test_an_ic_plus_account_sees_fee_not_reported_rather_than_zero(
    live_app, stripe_http, signed_in, authorized
):
    stripe_http.settlement = {"fee_details": [], "fee": 0}
    staff = signed_in(Role.STAFF, quick_hash=True)
    move_money(staff, f"/orders/{authorized.id}/capture", {"amount": "30.00"})
    panel = section(staff.get(f"/orders/{authorized.id}").get_data(as_text=True), "payment-panel")
    assert fact(panel, "Stripe fees") == "Not reported by Stripe"
    assert "accounts on IC+ pricing get their fees in Stripe's fee report" in panel
    assert fact(panel, "Net to your balance") == "$30.00 USD"


def test_a_balance_transaction_that_comes_later_is_read_from_charge_updated(
    live_app, stripe_http, app, signed_in, make_order
):
    order = on_charge(make_order, "authorized")
    client = app.test_client()
    captured = charge(order.id, captured=True, amount_captured=AMOUNT, balance_transaction=None)
    assert send_event(client, stripe_event("charge.captured", captured)).status_code == 200
    staff = signed_in(Role.SUPPORT, quick_hash=True)
    panel = section(staff.get(f"/orders/{order.id}").get_data(as_text=True), "payment-panel")
    assert fact(panel, "Stripe fees") == "Not known yet"  # no balance transaction yet

    balance_id = stripe_http.balance_for("ch_test_hold", AMOUNT, "usd")
    updated = charge(
        order.id, captured=True, amount_captured=AMOUNT, balance_transaction=balance_id
    )
    assert send_event(client, stripe_event("charge.updated", updated)).status_code == 200
    assert [c.path for c in stripe_http.calls] == [f"/v1/balance_transactions/{balance_id}"]
    panel = section(staff.get(f"/orders/{order.id}").get_data(as_text=True), "payment-panel")
    assert fact(panel, "Stripe fees") == "$1.17 USD"
    assert fact(panel, "Net to your balance") == "$28.83 USD"


def test_flask_stripe_fees_reads_the_balance_transactions_still_missing(
    live_app, stripe_http, app, make_order
):
    order = on_charge(make_order, "authorized")
    balance_id = stripe_http.balance_for("ch_test_hold", AMOUNT, "usd")
    captured = charge(order.id, captured=True, amount_captured=AMOUNT, balance_transaction=None)
    send_event(app.test_client(), stripe_event("charge.captured", captured))
    stripe_http.fail_next(
        "GET", f"/v1/balance_transactions/{balance_id}", 500, {"type": "api_error"}
    )
    updated = charge(
        order.id, captured=True, amount_captured=AMOUNT, balance_transaction=balance_id
    )
    assert send_event(app.test_client(), stripe_event("charge.updated", updated)).status_code == 200
    runner = live_app.test_cli_runner()

    first = runner.invoke(args=["stripe", "fees"])
    assert first.exit_code == 0, first.output
    assert "Read 1 balance transaction for 1 order; 0 orders still waiting." in first.output
    again = runner.invoke(args=["stripe", "fees"])
    assert (again.exit_code, again.output.strip()) == (
        0,
        "No capture or refund is waiting for its fees.",
    )
    assert len(stripe_http.calls_to("GET", f"/v1/balance_transactions/{balance_id}")) == 2


def test_a_refund_made_in_stripes_dashboard_is_a_ledger_row_of_its_own(
    live_app, stripe_http, app, signed_in, make_order
):
    order = on_charge(make_order, "captured")
    stripe_http.intents[PI] = intent(
        order.id,
        status="succeeded",
        received=AMOUNT,
        latest_charge=charge(order.id, captured=True, amount_captured=AMOUNT, refunds=700),
    )
    made = refund(id="re_dashboard_1", amount=700, status="succeeded")
    made["reason"] = "requested_by_customer"
    assert send_event(app.test_client(), stripe_event("refund.created", made)).status_code == 200

    staff = signed_in(Role.SUPPORT, quick_hash=True)
    page = staff.get(f"/orders/{order.id}").get_data(as_text=True)
    row = re.search(r'<tr class="movement-refund status-succeeded">(.*?)</tr>', page, re.S)
    assert row, "the refund is in the ledger"
    assert "$7.00" in row.group(1) and "Outside the dashboard" in row.group(1)
    assert "re_dashboard_1" in row.group(1)
    assert 'id="ledger-refunded">$7.00<' in page and 'id="amount-refunded">$7.00<' in page


def test_a_refund_stripe_reports_only_as_an_amount_still_adds_up(
    live_app, app, signed_in, make_order
):
    """charge.refunded carries the refunded total, not the refund: until the refund's own
    event comes, the ledger says what is missing instead of disagreeing with the panel."""
    order = on_charge(make_order, "captured")
    refunded = charge(order.id, captured=True, amount_captured=AMOUNT, refunds=1000)
    assert (
        send_event(app.test_client(), stripe_event("charge.refunded", refunded)).status_code == 200
    )
    page = (
        signed_in(Role.SUPPORT, quick_hash=True).get(f"/orders/{order.id}").get_data(as_text=True)
    )
    assert "Refunded, as Stripe reports it (details not received yet)" in page
    assert 'id="ledger-refunded">$10.00<' in page and 'id="amount-refunded">$10.00<' in page


# -- reading Stripe's objects: every value checked ------------------------------------------


def test_charge_facts_take_what_stripe_sent_and_refuse_what_it_could_not_have():
    raw = charge(1, captured=True, amount_captured=AMOUNT, **apple_pay_mastercard())
    facts = charge_facts(raw)
    assert facts is not None
    assert facts.card == Card(
        "mastercard", "4444", 3, 2031, "debit", "DE", "apple_pay", "mastercard"
    )
    assert (facts.risk_level, facts.risk_score, facts.three_d_secure) == (
        "elevated",
        67,
        "authenticated",
    )

    hostile = charge(1, **apple_pay_mastercard())
    card = hostile["payment_method_details"]["card"]
    card.update(last4="<b>1", exp_month=13, exp_year=True, country="Germany", brand="VISA!")
    card["checks"]["cvc_check"] = "<script>"
    hostile["outcome"].update(risk_score=1e3, seller_message="ok\x1b[31m\u202e\x00", risk_level=7)
    hostile["currency"] = "euro"
    facts = charge_facts(hostile)
    assert facts is not None and facts.card is not None
    assert (facts.card.last4, facts.card.exp_month, facts.card.exp_year) == (None, None, None)
    assert (facts.card.country, facts.card.brand, facts.cvc_check) == (None, None, None)
    assert (facts.risk_score, facts.risk_level, facts.currency) == (None, None, None)
    assert facts.seller_message == "ok[31m"
    assert charge_facts({"id": "not a charge id"}) is None
    assert charge_facts("ch_123") is None


def test_a_later_reading_never_erases_what_an_earlier_one_said():
    full = charge_facts(charge(1, captured=True, amount_captured=2000, **apple_pay_mastercard()))
    bare = ChargeFacts(id=full.id, status="succeeded", amount_captured=1000)
    merged = bare.merged_over(full)
    assert merged.card == full.card and merged.risk_score == 67
    assert merged.amount_captured == 2000  # a captured amount never goes down
    again = ChargeFacts.from_stored(merged.stored())
    assert again == merged


def test_balance_transactions_fee_and_rate():
    base = {"id": "txn_1", "amount": 2760, "currency": "eur", "net": 2655, "status": "pending"}
    with_fee = balance_facts(
        {
            **base,
            "fee": 105,
            "exchange_rate": 0.92,
            "fee_details": [{"type": "stripe_fee", "amount": 105, "currency": "eur"}],
        }
    )
    assert (with_fee.fee, with_fee.currency, with_fee.exchange_rate) == (105, "EUR", "0.92")
    no_fee = balance_facts({**base, "fee": 0, "fee_details": [], "exchange_rate": 1.0})
    assert (no_fee.fee, no_fee.exchange_rate) == (None, None)
    assert balance_facts("txn_1") is None  # an id alone says nothing of the fee
    assert balance_facts({**base, "amount": "2760"}) is None
    assert balance_facts({**base, "amount": 10**30}) is None


def test_declines_and_refunds_read_from_their_shapes():
    attempt = failed_attempt(
        {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "charge": "ch_declined_1",
            "payment_method": {"id": "pm_1", "card": {"brand": "visa", "last4": "9995"}},
        },
        "pi_1",
    )
    assert (attempt.id, attempt.status, attempt.decline_code) == (
        "ch_declined_1",
        "failed",
        "insufficient_funds",
    )
    assert attempt.card.label == "Visa •••• 9995"
    no_charge = failed_attempt({"code": "payment_intent_authentication_failure"}, "pi_1")
    assert no_charge.id == "pi_1:payment_intent_authentication_failure"
    made = refund_details(
        {
            **refund(
                id="re_1", amount=500, status="pending", idempotency_key="order-1-refund-500-1"
            ),
            "balance_transaction": "txn_9",
            "reason": "duplicate",
            "created": int(time.time()),
        }
    )
    assert (made.amount, made.status, made.reason, made.idempotency_key) == (
        500,
        "pending",
        "duplicate",
        "order-1-refund-500-1",
    )
    assert (made.balance_transaction_id, made.balance) == ("txn_9", None)
    assert refund_details({"id": "re_1", "amount": -5}) is None
