"""What the order page says about a payment, in words staff understand: the card and its
checks, earlier failed attempts, the ledger of money movements with fees and net, each
amount labelled with its currency. Built from what is stored; nothing here calls Stripe."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.domain.money import MoneyError, format_minor
from dashboard.domain.stripe_mapping import ChargeStatus, RefundStatus
from dashboard.models import (
    MoneyMovement,
    MovementKind,
    Order,
    PaymentAttempt,
    StripeRequest,
)
from dashboard.payments.charges import BalanceFacts, ChargeFacts
from dashboard.payments.snapshots import dashboard_url
from dashboard.services.payments import records
from dashboard.services.payments.review import REFUND_REASONS, VOID_REASONS

CHECKS = {
    "pass": "Passed",
    "fail": "Failed",
    "unavailable": "Unavailable",
    "unchecked": "Not checked",
}
THREE_D_SECURE = {
    "authenticated": "Authenticated by the bank",
    "attempt_acknowledged": "Attempted; the bank does not support it",
    "exempted": "Exempted",
    "failed": "Failed",
    "not_supported": "Not supported by the card",
    "processing_error": "Could not be completed",
}
NETWORK = {
    "approved_by_network": "Approved by the card network",
    "declined_by_network": "Declined by the card network",
    "not_sent_to_network": "Not sent to the card network",
    "reversed_after_approval": "Reversed after approval",
}
RISK = {
    "normal": "Normal",
    "elevated": "Elevated",
    "highest": "Highest",
    "not_assessed": "Not assessed",
    "unknown": "Unknown",
}
FUNDING = {"credit": "Credit", "debit": "Debit", "prepaid": "Prepaid", "unknown": "Unknown"}
KINDS = {
    MovementKind.CAPTURE: "Capture",
    MovementKind.RELEASE: "Rest of the hold released",
    MovementKind.VOID: "Hold voided",
    MovementKind.REFUND: "Refund",
}
STATUSES: dict[str, str] = {
    RefundStatus.PENDING: "Pending",
    RefundStatus.REQUIRES_ACTION: "Waiting for the buyer",
    RefundStatus.SUCCEEDED: "Succeeded",
    RefundStatus.FAILED: "Failed",
    RefundStatus.CANCELED: "Canceled",
}
REASONS = {
    MovementKind.VOID: {**VOID_REASONS, "lapsed": "The hold lapsed (not captured in time)"},
    MovementKind.REFUND: REFUND_REASONS,
}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    link: str | None = None


@dataclass(frozen=True)
class FailedAttempt:
    when: datetime | None
    card: str
    why: str
    code: str | None


@dataclass(frozen=True)
class LedgerRow:
    when: datetime | None
    what: str
    amount: str
    status: str
    who: str
    stripe_id: str | None
    stripe_link: str | None
    fee: str
    net: str
    css: str = ""


@dataclass
class FeeSummary:
    """Gross in the order's currency; fees and net per settlement currency, never summed
    across currencies."""

    gross: str
    fees: list[str] = field(default_factory=list)
    nets: list[str] = field(default_factory=list)
    not_reported: bool = False  # a balance transaction came without a fee
    waiting: bool = False  # a capture or refund whose balance transaction is not known yet


def payment_facts(order: Order, *, sandbox: bool) -> dict[str, object]:
    """The order page's payment details, failed attempts, ledger and fees."""
    attempts = records.attempts(order)
    current = _current(order, attempts)
    rows = records.movements(order)
    livemode = current.livemode if current else False
    return {
        "details": _details(order, current),
        "failed_attempts": [_failed(a) for a in attempts if a.status == ChargeStatus.FAILED],
        "ledger": _ledger(order, rows, livemode),
        "ledger_totals": records.totals(order, rows),
        "fees": _fees(order, rows),
        "fees_from_sandbox": sandbox,
    }


def _current(order: Order, attempts: list[PaymentAttempt]) -> ChargeFacts | None:
    chosen = next((a for a in attempts if a.attempt_key == order.stripe_charge_id), None)
    if chosen is None:
        chosen = next((a for a in reversed(attempts) if a.status != ChargeStatus.FAILED), None)
    return ChargeFacts.from_stored(chosen.details) if chosen else None


def _details(order: Order, facts: ChargeFacts | None) -> list[Fact]:
    livemode = facts.livemode if facts else False
    shown: list[Fact] = []
    if facts is not None and facts.card is not None:
        card = facts.card
        shown.append(Fact("Card", card.label))
        if card.exp_month and card.exp_year:
            shown.append(Fact("Expires", f"{card.exp_month:02d}/{card.exp_year}"))
        if card.funding:
            shown.append(Fact("Funding", FUNDING.get(card.funding, card.funding)))
        if card.country:
            shown.append(Fact("Issued in", card.country))
        if card.wallet_label:
            shown.append(Fact("Wallet", card.wallet_label))
    if facts is not None:
        secure = THREE_D_SECURE.get(facts.three_d_secure or "", "Not used")
        if facts.three_d_secure_version and facts.three_d_secure:
            secure += f" (version {facts.three_d_secure_version})"
        shown += [
            Fact("3-D Secure", secure),
            Fact("CVC check", _check(facts.cvc_check)),
            Fact("Address line check", _check(facts.address_line1_check)),
            Fact("Postal code check", _check(facts.address_postal_code_check)),
        ]
        if facts.risk_level or facts.risk_score is not None:
            risk = RISK.get(facts.risk_level or "", facts.risk_level or "Not reported")
            if facts.risk_score is not None:
                risk += f" (score {facts.risk_score} of 100)"
            shown.append(Fact("Radar risk", risk))
        if facts.network_status:
            shown.append(Fact("Network", NETWORK.get(facts.network_status, facts.network_status)))
        if facts.seller_message:
            shown.append(Fact("Stripe says", facts.seller_message))
        if facts.statement_descriptor:
            shown.append(Fact("Statement descriptor", facts.statement_descriptor))
        if facts.receipt_email:
            shown.append(Fact("Receipt email", facts.receipt_email))
    if order.stripe_payment_intent_id:
        intent = order.stripe_payment_intent_id
        shown.append(Fact("Payment", intent, dashboard_url(intent, livemode=livemode)))
    if order.stripe_charge_id:
        charge = order.stripe_charge_id
        shown.append(Fact("Charge", charge, dashboard_url(charge, livemode=livemode)))
    return shown


def _check(value: str | None) -> str:
    return CHECKS.get(value or "", "Not reported") if value else "Not reported"


def _failed(attempt: PaymentAttempt) -> FailedAttempt:
    facts = ChargeFacts.from_stored(attempt.details)
    code = facts.decline_code or facts.failure_code
    return FailedAttempt(
        when=facts.created_at or attempt.first_seen_at,
        card=facts.card.label if facts.card else "Card not reported",
        why=facts.failure_message or "Declined; Stripe gave no reason.",
        code=code,
    )


def _ledger(order: Order, rows: list[MoneyMovement], livemode: bool) -> list[LedgerRow]:
    shown = [_row(order, row, livemode) for row in rows]
    totals = records.totals(order, rows)
    for kind, missing in (
        ("Captured, as Stripe reports it (details not received yet)", totals.captured_unexplained),
        ("Refunded, as Stripe reports it (details not received yet)", totals.refunded_unexplained),
    ):
        if missing:
            shown.append(
                LedgerRow(None, kind, order.money(missing), "Succeeded", "—", None, None, "", "")
            )
    return shown


def _row(order: Order, row: MoneyMovement, livemode: bool) -> LedgerRow:
    kind = MovementKind(row.kind)
    what = KINDS[kind]
    if row.reason and kind in REASONS:
        what += f": {REASONS[kind].get(row.reason, row.reason.replace('_', ' '))}"
    if row.failure_reason:
        what += f" (failed: {row.failure_reason.replace('_', ' ')})"
    balance = BalanceFacts.from_stored(row.balance) if row.balance else None
    return LedgerRow(
        when=row.occurred_at,
        what=what,
        amount=order.money(row.amount),
        status=STATUSES.get(row.status, row.status),
        who=_who(row.request, row),
        stripe_id=row.stripe_object_id,
        stripe_link=dashboard_url(row.stripe_object_id, livemode=livemode),
        fee=_fee(balance, row),
        net=_money(balance.net, balance.currency) if balance else "",
        css=f"movement-{kind.value} status-{row.status}",
    )


def _who(request: StripeRequest | None, row: MoneyMovement) -> str:
    if row.reason == "lapsed":
        return "Stripe (the hold lapsed)"
    if request is None:
        return "Outside the dashboard"
    return row.actor.email if row.actor else "The dashboard (automatic)"


def _fee(balance: BalanceFacts | None, row: MoneyMovement) -> str:
    if balance is None:
        return "not known yet" if row.balance_transaction_id else ""
    if balance.fee is None:
        return "not reported"
    return _money(balance.fee, balance.currency)


def _fees(order: Order, rows: list[MoneyMovement]) -> FeeSummary:
    summary = FeeSummary(gross=order.money(order.amount_captured))
    fees: dict[str, int] = defaultdict(int)
    nets: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.kind not in (MovementKind.CAPTURE, MovementKind.REFUND):
            continue
        if row.balance is None:
            summary.waiting = summary.waiting or row.status != RefundStatus.FAILED
            continue
        balance = BalanceFacts.from_stored(row.balance)
        nets[balance.currency] += balance.net
        if balance.fee is None:
            summary.not_reported = True
        else:
            fees[balance.currency] += balance.fee
    summary.fees = [_money(amount, currency) for currency, amount in sorted(fees.items())]
    summary.nets = [_money(amount, currency) for currency, amount in sorted(nets.items())]
    return summary


def _money(amount: int, currency: str) -> str:
    """An amount with its currency code, so no one mixes a settlement currency with the
    order's: "€16.42 EUR" (a currency the dashboard does not sell in: its minor units)."""
    code = currency.upper()
    try:
        shown = format_minor(amount, code)
    except MoneyError:
        return f"{amount:,} (minor units) {code}"
    return shown if shown.startswith(code) else f"{shown} {code}"
