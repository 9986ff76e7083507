"""The gateway's calls for answering a dispute: uploading a document to Stripe's Files API
(purpose `dispute_evidence`) and saving or submitting the evidence on the dispute.

Mixed into `StripeGateway`, whose client and error translation these use. localstripe has
no disputes or files: in the sandbox these say so rather than send.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe.params import DisputeUpdateParams, FileCreateParams

from dashboard.payments import errors
from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.snapshots import request_id_of


@dataclass(frozen=True)
class DisputeAnswer:
    """The dispute as Stripe answered after its evidence was saved or submitted."""

    id: str
    status: str
    has_evidence: bool
    submission_count: int
    past_due: bool
    evidence_due_by: datetime | None
    request_id: str | None


@dataclass(frozen=True)
class UploadedFile:
    id: str
    size: int
    request_id: str | None


class DisputeCalls:
    """Disputes' evidence and its documents."""

    compat: LocalstripeCompat | None
    _client: stripe.StripeClient

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def _no_disputes_in_sandbox(self) -> None:
        if self.compat is not None:
            raise errors.SandboxOnly(
                "Disputes cannot be answered in the sandbox: localstripe has no disputes or files."
            )

    def upload_dispute_file(
        self, *, filename: str, content: bytes, idempotency_key: str
    ) -> UploadedFile:
        """A multipart POST to files.stripe.com/v1/files with purpose=dispute_evidence."""
        self._no_disputes_in_sandbox()
        document = io.BytesIO(content)
        document.name = filename
        params: FileCreateParams = {"purpose": "dispute_evidence", "file": document}
        made = self._call(
            "upload dispute evidence",
            lambda: self._client.v1.files.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return UploadedFile(
            id=str(made.id), size=int(made.size or 0), request_id=request_id_of(made)
        )

    def update_dispute_evidence(
        self, dispute_id: str, *, evidence: dict[str, str], submit: bool, idempotency_key: str
    ) -> DisputeAnswer:
        """`submit=False` stages the evidence at Stripe; `submit=True` sends it to the bank."""
        self._no_disputes_in_sandbox()
        params: DisputeUpdateParams = {
            "evidence": dict(evidence),  # type: ignore[typeddict-item]
            "submit": submit,
        }
        answer = self._call(
            "submit dispute evidence" if submit else "save dispute evidence",
            lambda: self._client.v1.disputes.update(
                dispute_id, params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return dispute_answer(answer.to_dict(), request_id_of(answer))


def dispute_answer(raw: dict[str, Any], request_id: str | None) -> DisputeAnswer:
    details = raw.get("evidence_details")
    details = details if isinstance(details, dict) else {}
    due = details.get("due_by")
    return DisputeAnswer(
        id=str(raw.get("id") or ""),
        status=str(raw.get("status") or ""),
        has_evidence=details.get("has_evidence") is True,
        submission_count=int(details.get("submission_count") or 0),
        past_due=details.get("past_due") is True,
        evidence_due_by=datetime.fromtimestamp(due, UTC) if isinstance(due, int) and due else None,
        request_id=request_id,
    )
