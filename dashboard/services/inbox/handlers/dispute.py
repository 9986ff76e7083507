"""`charge.dispute.*` events: a chargeback flagged on its order, its status moving forward
only (a late "created" never reopens a closed dispute)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dashboard.domain.money import MAX_AMOUNT_MINOR, format_minor
from dashboard.domain.stripe_mapping import dispute_status_follows
from dashboard.extensions import db
from dashboard.models import Dispute, utcnow
from dashboard.payments.snapshots import dispute_from_event
from dashboard.services import alerts
from dashboard.services.inbox.handlers.outcomes import (
    Outcome,
    applied,
    flagged,
    ignored,
    other_attempt,
)
from dashboard.services.inbox.handlers.registry import MatchedEvent, handles

# What each event says happened to the dispute, in the words of the order's timeline.
WHAT = {
    "charge.dispute.created": "opened",
    "charge.dispute.updated": "updated",
    "charge.dispute.closed": "closed",
    "charge.dispute.funds_withdrawn": "funds withdrawn",
    "charge.dispute.funds_reinstated": "funds reinstated",
}


@handles(*WHAT, rereads_stripe=False)
def on_dispute(event: MatchedEvent) -> Outcome:
    order = event.order
    facts = dispute_from_event(event.object)
    if not facts.id:
        return ignored("The dispute has no valid id.")
    if not 0 <= facts.amount <= MAX_AMOUNT_MINOR:
        return flagged(
            f"Not applied: the disputed amount {facts.amount} is beyond what Stripe can charge."
        )
    other = other_attempt(order, facts.payment_intent_id)
    if other is not None:
        return other
    dispute = db.session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == facts.id))
    if dispute is None:
        dispute = Dispute(
            order_id=order.id,
            stripe_dispute_id=facts.id,
            charge_id=facts.charge_id,
            amount=facts.amount,
            currency=facts.currency or order.currency,
            reason=facts.reason,
            status=facts.status,
            status_at=event.row.created,
            evidence_due_by=facts.evidence_due_by,
        )
        db.session.add(dispute)
        alerts.dispute_opened(order, dispute)
    elif _takes(dispute, facts.status, event.row.created):
        dispute.status = facts.status
        dispute.status_at = event.row.created
        dispute.amount = facts.amount or dispute.amount
        dispute.evidence_due_by = facts.evidence_due_by or dispute.evidence_due_by
        # What Stripe says of the evidence, as of the status it took.
        dispute.has_evidence = facts.has_evidence
        dispute.submission_count = max(dispute.submission_count, facts.submission_count)
        dispute.past_due = facts.past_due
    if event.type == "charge.dispute.funds_withdrawn":
        dispute.funds_withdrawn = True
    if event.type == "charge.dispute.funds_reinstated":
        dispute.funds_reinstated = True
    dispute.updated_at = utcnow()
    db.session.flush()
    status = dispute.outcome or dispute.status.replace("_", " ")
    amount = format_minor(dispute.amount, dispute.currency)
    return applied(f"dispute {facts.id} {WHAT[event.type]}: {amount} ({dispute.reason}), {status}")


def _takes(dispute: Dispute, status: str, said_at: datetime) -> bool:
    """Whether the dispute takes the status an event says: it follows the current one
    (`dispute_status_follows`), and Stripe said it no earlier than the current one."""
    not_older = dispute.status_at is None or said_at >= dispute.status_at
    return not_older and dispute_status_follows(dispute.status, status)
