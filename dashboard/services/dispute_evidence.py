"""Answering a dispute: documents uploaded to Stripe, the evidence saved as a draft
(`submit=false`) or submitted (`submit=true`, once), each step on the order's timeline.

Every call carries an idempotency key derived from what it sends: a retry of the same step
replays Stripe's first answer. A draft's key also counts the drafts saved before it, so
saving earlier text again is a new save, not a replay. Submitting holds the dispute's row
locked while Stripe answers, so two clicks at once submit once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from dashboard.domain.dispute_evidence import (
    ANSWERABLE,
    FIELDS,
    EvidenceProblem,
    file_kind,
    text_evidence,
)
from dashboard.domain.stripe_mapping import dispute_status_follows
from dashboard.extensions import db
from dashboard.models import Dispute, Order, TimelineKind, User, utcnow
from dashboard.payments import errors
from dashboard.payments.dispute_calls import DisputeAnswer
from dashboard.payments.gateway import gateway
from dashboard.services import timeline


class EvidenceRefused(Exception):
    """Nothing was sent (or Stripe refused it): the message says why, for people."""


@dataclass(frozen=True)
class Saved:
    message: str


def dispute_or_none(dispute_id: int) -> Dispute | None:
    return db.session.get(Dispute, dispute_id)


def can_answer(dispute: Dispute) -> bool:
    """Evidence can still be saved and submitted: Stripe waits for it, and it is not late."""
    return dispute.status in ANSWERABLE and not dispute.past_due


def _digest(sent: object) -> str:
    return hashlib.sha256(json.dumps(sent, sort_keys=True).encode()).hexdigest()[:24]


def _order(dispute: Dispute) -> Order:
    order = db.session.get(Order, dispute.order_id)
    assert order is not None  # a dispute's order is its foreign key
    return order


def _refuse_unless_answerable(dispute: Dispute) -> None:
    if dispute.past_due:
        raise EvidenceRefused("The deadline for evidence has passed: Stripe takes no more.")
    if dispute.status not in ANSWERABLE:
        raise EvidenceRefused(
            "This dispute takes no evidence now: it was submitted, or it is closed. "
            "Submitted evidence cannot be changed."
        )


def upload_document(
    dispute: Dispute, *, field: str, filename: str, content: bytes, actor: User
) -> Saved:
    """A PDF, JPEG or PNG of at most 5 MB (by its content) sent to Stripe's Files API and
    kept as the draft's value for `field`; the draft itself is saved at Stripe with the
    next "Save draft" or "Submit"."""
    _refuse_unless_answerable(dispute)
    if field not in FIELDS or not FIELDS[field].is_file:
        raise EvidenceRefused("Choose which piece of evidence this document is.")
    try:
        kind = file_kind(content)
    except EvidenceProblem as problem:
        raise EvidenceRefused(str(problem)) from None
    content_digest = hashlib.sha256(content).hexdigest()[:32]
    key = f"dispute-{dispute.stripe_dispute_id}-file-{content_digest}"
    # The name Stripe keeps: ours, with the extension the content proved, nothing typed.
    name = f"{field}.{kind.extension}"
    order = _order(dispute)
    try:
        made = gateway().upload_dispute_file(filename=name, content=content, idempotency_key=key)
    except errors.PaymentError as error:
        _step(
            order,
            actor,
            "dispute_file",
            f"Stripe refused the document {filename!r}: {error}",
            dispute=dispute,
            key=key,
            status="failed",
        )
        raise EvidenceRefused(f"Stripe did not take the document: {error}") from error
    dispute.evidence = {**dispute.evidence, field: made.id}
    dispute.evidence_files = {
        **dispute.evidence_files,
        made.id: {
            "field": field,
            "name": filename[:200],
            "type": kind.mime_type,
            "size": len(content),
        },
    }
    _step(
        order,
        actor,
        "dispute_file",
        f"Document {filename[:200]!r} ({kind.extension.upper()}, {len(content):,} bytes) "
        f"uploaded to Stripe as {FIELDS[field].label.lower()} by {actor.email}",
        dispute=dispute,
        key=key,
        status="succeeded",
        request_id=made.request_id,
        file=made.id,
    )
    db.session.flush()
    return Saved(f"{FIELDS[field].label}: the document was uploaded. Save the draft to keep it.")


def save_evidence(dispute: Dispute, *, values: dict[str, str], submit: bool, actor: User) -> Saved:
    """The evidence typed (and the documents uploaded) sent to Stripe: staged with
    `submit=false`, or sent to the bank with `submit=true`, once."""
    if submit:
        # Two clicks at once: the second waits here, then finds the dispute submitted.
        db.session.refresh(dispute, with_for_update=True)
    _refuse_unless_answerable(dispute)
    try:
        texts = text_evidence(values)
    except EvidenceProblem as problem:
        raise EvidenceRefused(str(problem)) from None
    files = {
        name: value
        for name, value in dispute.evidence.items()
        if FIELDS.get(name) and FIELDS[name].is_file
    }
    evidence = {**texts, **files}
    if submit and not evidence:
        raise EvidenceRefused(
            "There is no evidence to submit: fill in a field or upload a document."
        )
    order = _order(dispute)
    step = f"submit-{dispute.submission_count}" if submit else f"draft-{dispute.evidence_saves}"
    key = f"dispute-{dispute.stripe_dispute_id}-{step}-{_digest(evidence)}"
    action = "dispute_submit" if submit else "dispute_draft"
    try:
        answer = gateway().update_dispute_evidence(
            dispute.stripe_dispute_id, evidence=evidence, submit=submit, idempotency_key=key
        )
    except errors.PaymentError as error:
        what = "submit" if submit else "save"
        _step(
            order,
            actor,
            action,
            f"Stripe refused to {what} the dispute's evidence: {error}",
            dispute=dispute,
            key=key,
            status="failed",
        )
        raise EvidenceRefused(f"Stripe did not take the evidence: {error}") from error
    dispute.evidence = evidence
    _take_answer(dispute, answer)
    if submit:
        dispute.evidence_submitted_at = utcnow()
        summary = f"Dispute evidence submitted to the bank ({len(evidence)} items) by {actor.email}"
        message = "The evidence was submitted to the bank. It can no longer be changed."
    else:
        dispute.evidence_saves += 1
        summary = (
            f"Dispute evidence saved as a draft at Stripe ({len(evidence)} items) by {actor.email}"
        )
        message = "Draft saved at Stripe. Nothing is sent to the bank until you submit."
    _step(
        order,
        actor,
        action,
        summary,
        dispute=dispute,
        key=key,
        status="succeeded",
        request_id=answer.request_id,
    )
    db.session.flush()
    return Saved(message)


def _take_answer(dispute: Dispute, answer: DisputeAnswer) -> None:
    if answer.status and dispute_status_follows(dispute.status, answer.status):
        dispute.status = answer.status
    dispute.has_evidence = answer.has_evidence
    dispute.submission_count = max(dispute.submission_count, answer.submission_count)
    dispute.past_due = answer.past_due
    dispute.evidence_due_by = answer.evidence_due_by or dispute.evidence_due_by
    dispute.updated_at = utcnow()


def _step(
    order: Order,
    actor: User,
    action: str,
    summary: str,
    *,
    dispute: Dispute,
    key: str,
    status: str,
    request_id: str | None = None,
    file: str | None = None,
) -> None:
    data = {
        "action": action,
        "dispute": dispute.stripe_dispute_id,
        "idempotency_key": key,
        "status": status,
    }
    if request_id:
        data["stripe_request_id"] = request_id
    if file:
        data["file"] = file
    timeline.append(order, TimelineKind.STAFF_ACTION, summary, actor=actor, data=data)
