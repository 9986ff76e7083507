"""What a renewal's invoice means once kept: its outcome on the subscription's timeline,
an outbox event once per invoice (SUBSCRIPTION_RENEWAL_PAID / _FAILED, docs/outbox.md),
staff alerted by email once per failed invoice, and the subscription flagged while a
failed renewal is still unpaid."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.domain.money import format_minor
from dashboard.domain.subscriptions import InvoiceStatus
from dashboard.extensions import db
from dashboard.models import (
    OutboxEvent,
    Subscription,
    SubscriptionEntry,
    SubscriptionInvoice,
    utcnow,
)
from dashboard.services import alerts
from dashboard.services.outbox import OutboxType

# Stripe's billing_reason for an invoice that renews a subscription for a new period.
RENEWAL = "subscription_cycle"
UNPAID = (InvoiceStatus.OPEN.value, InvoiceStatus.UNCOLLECTIBLE.value)


def after_invoice(subscription: Subscription, invoice: SubscriptionInvoice, *, source: str) -> None:
    """Each renewal's paid and failed outcomes are written once, whatever order Stripe's
    events came in (a failure reported after the retry's success is still written); staff
    are alerted only while the failed renewal is unpaid."""
    amount = format_minor(invoice.amount_due, invoice.currency)
    if invoice.billing_reason == RENEWAL:
        if invoice.status == InvoiceStatus.PAID.value and _emit(
            subscription, invoice, OutboxType.SUBSCRIPTION_RENEWAL_PAID
        ):
            _note(subscription, f"Renewal paid: {amount}, invoice {_name(invoice)} ({source})")
        if invoice.payment_failed and _emit(
            subscription, invoice, OutboxType.SUBSCRIPTION_RENEWAL_FAILED
        ):
            _note(
                subscription,
                f"Renewal payment failed: {amount}, invoice {_name(invoice)} ({source})",
            )
            if invoice.status in UNPAID:
                alerts.renewal_failed(subscription, invoice)
    _flag(subscription)


def _name(invoice: SubscriptionInvoice) -> str:
    return invoice.number or invoice.stripe_invoice_id


def _flag(subscription: Subscription) -> None:
    """Flagged while any invoice whose payment failed is still unpaid."""
    failing = db.session.scalar(
        select(SubscriptionInvoice.id).where(
            SubscriptionInvoice.subscription_id == subscription.id,
            SubscriptionInvoice.payment_failed.is_(True),
            SubscriptionInvoice.status.in_(UNPAID),
        )
    )
    if failing is None:
        subscription.renewal_failed_at = None
    elif subscription.renewal_failed_at is None:
        subscription.renewal_failed_at = utcnow()


def _note(subscription: Subscription, summary: str) -> None:
    db.session.add(SubscriptionEntry(subscription_id=subscription.id, summary=summary, data={}))


def _emit(subscription: Subscription, invoice: SubscriptionInvoice, kind: OutboxType) -> bool:
    """Write the event once per invoice; False when it was written already."""
    key = f"{kind.value}:{invoice.stripe_invoice_id}"
    if db.session.scalar(select(OutboxEvent.id).where(OutboxEvent.dedupe_key == key)):
        return False
    db.session.add(
        OutboxEvent(
            order_id=None,
            type=kind.value,
            dedupe_key=key,
            payload={
                "subscription": subscription.stripe_subscription_id,
                "customer": subscription.stripe_customer_id,
                "buyer_email": subscription.buyer_email,
                "plan_id": subscription.plan_id,
                "invoice": invoice.stripe_invoice_id,
                "invoice_number": invoice.number,
                "amount": invoice.amount_due,
                "currency": invoice.currency,
                "attempt_count": invoice.attempt_count,
                "payment_intent": invoice.payment_intent_id,
                "period_start": invoice.period_start.isoformat() if invoice.period_start else None,
                "period_end": invoice.period_end.isoformat() if invoice.period_end else None,
            },
        )
    )
    db.session.flush()
    return True
