"""Stripe's reports of a subscription and its invoices, kept: from API answers (a buyer
subscribing, staff canceling, a re-read) and from webhooks alike.

Every rule is monotone, so any arrival order ends in the same state: a subscription takes
a report only if it stands later than the one it holds (domain.subscriptions.ReportOrder:
ended, then billing period, then Stripe's time, then status rank); an invoice's status
only moves forward, its attempts only grow, a failure once seen stays noted. A renewal's
outcome is written to the outbox once per invoice, and a failed renewal alerts staff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from dashboard.domain.subscriptions import (
    InvoiceStatus,
    ReportOrder,
    SubscriptionStatus,
    invoice_moves,
    invoice_status_of,
    report_order,
    status_of,
)
from dashboard.extensions import db, upsert_insert
from dashboard.models import (
    Plan,
    Subscription,
    SubscriptionEntry,
    SubscriptionInvoice,
    User,
    utcnow,
)
from dashboard.payments.subscription_snapshots import InvoiceSnapshot, SubscriptionSnapshot
from dashboard.services import customers
from dashboard.services.subscriptions import renewals

RENEWAL = "subscription_cycle"


def moment(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def note(
    subscription: Subscription,
    summary: str,
    *,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """An entry on the subscription's timeline."""
    db.session.add(
        SubscriptionEntry(
            subscription_id=subscription.id,
            actor_id=actor.id if actor is not None else None,
            summary=summary,
            data=data or {},
        )
    )


def locked(stripe_subscription_id: str) -> Subscription | None:
    return db.session.scalar(
        select(Subscription)
        .where(Subscription.stripe_subscription_id == stripe_subscription_id)
        .with_for_update()
    )


def placeholder(stripe_subscription_id: str, stripe_customer_id: str) -> None:
    """A row for a subscription known so far only from its invoice; it holds no report,
    so the subscription's first report is taken whatever it says."""
    _insert(stripe_subscription_id, stripe_customer_id, None, None)


def _insert(
    stripe_subscription_id: str, stripe_customer_id: str, email: str | None, plan_id: int | None
) -> bool:
    made_id = db.session.scalar(
        upsert_insert()(Subscription)
        .values(
            stripe_subscription_id=stripe_subscription_id,
            stripe_customer_id=stripe_customer_id,
            buyer_email=email,
            plan_id=plan_id,
            status=SubscriptionStatus.INCOMPLETE.value,
            cancel_at_period_end=False,
            report_ended=False,
            report_period_start=0,
            report_said_at=0,
            report_rank=-1,
            report_event_id="",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["stripe_subscription_id"])
        .returning(Subscription.id)
    )
    return made_id is not None


def _found_or_made(snapshot: SubscriptionSnapshot, email: str | None) -> tuple[Subscription, bool]:
    """The subscription's row, locked; made (once, whoever asks at the same time) if new."""
    made = _insert(snapshot.id, snapshot.customer_id, email, _plan_id(snapshot))
    row = locked(snapshot.id)
    assert row is not None
    return row, made


def _plan_id(snapshot: SubscriptionSnapshot) -> int | None:
    if snapshot.price_id:
        found = db.session.scalar(select(Plan.id).where(Plan.stripe_price_id == snapshot.price_id))
        if found is not None:
            return int(found)
    raw = snapshot.metadata.get("plan_id", "")
    if raw.isdigit() and db.session.get(Plan, int(raw)) is not None:
        return int(raw)
    return None


def _link_customer(row: Subscription) -> None:
    """The subscription's customer, once one is known by its Stripe Customer id."""
    if row.customer_id is None and row.stripe_customer_id:
        customer = customers.by_stripe_id(row.stripe_customer_id)
        if customer is not None:
            row.customer_id = customer.id
            row.buyer_email = row.buyer_email or customer.email


def _held(row: Subscription) -> ReportOrder:
    return ReportOrder(
        row.report_ended,
        row.report_period_start,
        row.report_said_at,
        row.report_rank,
        row.report_event_id,
    )


def apply_subscription(
    snapshot: SubscriptionSnapshot,
    *,
    said_at: int,
    event_id: str,
    source: str,
    email: str | None = None,
    actor: User | None = None,
) -> tuple[Subscription, bool]:
    """Keep Stripe's report if it is the latest; (the row, whether it took the report).
    An API answer passes `said_at` = now and a unique `event_id` (e.g. `api:<request>`)."""
    status = status_of(snapshot.status)
    if status is None:
        raise ValueError(f"Stripe reported a subscription status we do not know: {snapshot.status}")
    row, made = _found_or_made(snapshot, email)
    if made:
        note(row, f"Subscription {snapshot.id} first reported ({source})", actor=actor)
    _link_customer(row)
    if email and not row.buyer_email:
        row.buyer_email = email
    report = report_order(status, snapshot.current_period_start, said_at, event_id)
    if report <= _held(row):
        return row, False
    before = (row.status, row.cancel_at_period_end, row.current_period_end)
    row.status = status.value
    row.current_period_start = moment(snapshot.current_period_start)
    row.current_period_end = moment(snapshot.current_period_end)
    row.cancel_at_period_end = snapshot.cancel_at_period_end
    row.canceled_at = moment(snapshot.canceled_at)
    row.ended_at = moment(snapshot.ended_at)
    row.trial_end = moment(snapshot.trial_end)
    row.default_payment_method = snapshot.default_payment_method or row.default_payment_method
    row.plan_id = row.plan_id or _plan_id(snapshot)
    row.report_ended = report.ended
    row.report_period_start = report.period_start
    row.report_said_at = report.said_at
    row.report_rank = report.rank
    row.report_event_id = report.event_id
    row.updated_at = utcnow()
    after = (row.status, row.cancel_at_period_end, row.current_period_end)
    if after != before:
        ending = ", ends at period end" if row.cancel_at_period_end else ""
        note(
            row,
            f"Status {row.status}{ending} ({source})",
            actor=actor,
            data={"status": row.status, "cancel_at_period_end": row.cancel_at_period_end},
        )
    return row, True


def apply_invoice(
    snapshot: InvoiceSnapshot, *, event_type: str, source: str
) -> SubscriptionInvoice | None:
    """Keep an invoice of a subscription we know; None if we know no such subscription."""
    if snapshot.subscription_id is None:
        return None
    subscription = locked(snapshot.subscription_id)
    if subscription is None:
        return None
    reported = invoice_status_of(snapshot.status) or InvoiceStatus.DRAFT
    db.session.execute(
        upsert_insert()(SubscriptionInvoice)
        .values(
            subscription_id=subscription.id,
            stripe_invoice_id=snapshot.id,
            status=reported.value,
            currency=snapshot.currency,
            amount_due=snapshot.amount_due,
            amount_paid=0,
            attempt_count=0,
            payment_failed=False,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["stripe_invoice_id"])
    )
    invoice = db.session.scalar(
        select(SubscriptionInvoice)
        .where(SubscriptionInvoice.stripe_invoice_id == snapshot.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert invoice is not None
    current = invoice_status_of(invoice.status) or InvoiceStatus.DRAFT
    if invoice_moves(current, reported):
        invoice.status = reported.value
    invoice.number = invoice.number or snapshot.number
    invoice.amount_due = snapshot.amount_due or invoice.amount_due
    invoice.amount_paid = max(invoice.amount_paid, snapshot.amount_paid)
    invoice.billing_reason = invoice.billing_reason or snapshot.billing_reason
    invoice.period_start = invoice.period_start or moment(snapshot.period_start)
    invoice.period_end = invoice.period_end or moment(snapshot.period_end)
    invoice.attempt_count = max(invoice.attempt_count, snapshot.attempt_count)
    invoice.payment_intent_id = invoice.payment_intent_id or snapshot.payment_intent_id
    invoice.charge_id = invoice.charge_id or snapshot.charge_id
    invoice.paid_at = invoice.paid_at or moment(snapshot.paid_at)
    if event_type == "invoice.paid" and invoice.status != InvoiceStatus.PAID:
        invoice.status = InvoiceStatus.PAID.value
        invoice.amount_paid = max(invoice.amount_paid, invoice.amount_due)
    if event_type == "invoice.payment_failed":
        invoice.payment_failed = True
        invoice.failure_message = snapshot.failure_message or invoice.failure_message
    db.session.flush()
    renewals.after_invoice(subscription, invoice, source=source)
    return invoice
