"""What a dispute's answer is made of: Stripe's evidence fields grouped by what each dispute
reason calls for, the files Stripe takes (recognised by their first bytes, not their name),
and which statuses still take an answer."""

from __future__ import annotations

from dataclasses import dataclass

# Stripe's own words for the statuses, for people.
STATUS_WORDS = {
    "warning_needs_response": "Inquiry: needs a response",
    "warning_under_review": "Inquiry: under review",
    "warning_closed": "Inquiry closed",
    "needs_response": "Needs a response",
    "under_review": "Under review",
    "appeal_needs_response": "Appeal: needs a response",
    "appeal_under_review": "Appeal: under review",
    "won": "Won",
    "lost": "Lost",
    "prevented": "Prevented",
}
# The statuses in which evidence can still be saved and submitted.
ANSWERABLE = frozenset({"warning_needs_response", "needs_response", "appeal_needs_response"})

# Stripe's limit on all text fields of one dispute's evidence together.
MAX_EVIDENCE_TEXT = 150_000
# Stripe's Files API: at most 5 MB a file, PDF, JPEG or PNG for dispute evidence.
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Field:
    name: str  # Stripe's evidence[...] key
    label: str
    is_file: bool = False
    long: bool = False


@dataclass(frozen=True)
class Group:
    title: str
    fields: tuple[Field, ...]


F = Field
GROUPS: dict[str, Group] = {
    "product": Group(
        "What was sold",
        (
            F("product_description", "Product or service description", long=True),
            F("customer_purchase_ip", "Buyer's IP address at purchase"),
        ),
    ),
    "communication": Group(
        "Talking with the buyer",
        (
            F("customer_name", "Buyer's name"),
            F("customer_email_address", "Buyer's email address"),
            F("customer_communication", "Emails or messages with the buyer", is_file=True),
            F("customer_signature", "Buyer's signature", is_file=True),
        ),
    ),
    "receipt": Group(
        "Receipt and billing",
        (
            F("receipt", "Receipt sent to the buyer", is_file=True),
            F("billing_address", "Billing address", long=True),
        ),
    ),
    "shipping": Group(
        "Shipping and tracking",
        (
            F("shipping_address", "Shipping address", long=True),
            F("shipping_date", "Shipping date"),
            F("shipping_carrier", "Carrier"),
            F("shipping_tracking_number", "Tracking number"),
            F("shipping_documentation", "Proof of shipping or delivery", is_file=True),
        ),
    ),
    "service": Group(
        "Service provided",
        (
            F("service_date", "Date the service was provided"),
            F("service_documentation", "Proof the service was provided", is_file=True),
        ),
    ),
    "refund": Group(
        "Refund policy",
        (
            F("refund_policy", "Refund policy", is_file=True),
            F("refund_policy_disclosure", "How the refund policy was shown", long=True),
            F("refund_refusal_explanation", "Why no refund was given", long=True),
        ),
    ),
    "cancellation": Group(
        "Cancellation policy",
        (
            F("cancellation_policy", "Cancellation policy", is_file=True),
            F("cancellation_policy_disclosure", "How it was shown", long=True),
            F("cancellation_rebuttal", "Why the cancellation is not valid", long=True),
        ),
    ),
    "duplicate": Group(
        "The other charge",
        (
            F("duplicate_charge_id", "The other charge's Stripe id"),
            F("duplicate_charge_explanation", "Why the two charges differ", long=True),
            F("duplicate_charge_documentation", "Proof of both charges", is_file=True),
        ),
    ),
    "other": Group(
        "Anything else",
        (
            F("uncategorized_text", "Other information", long=True),
            F("uncategorized_file", "Other document", is_file=True),
        ),
    ),
}

# What each reason calls for, most telling first; the rest of the fields follow.
CALLS_FOR: dict[str, tuple[str, ...]] = {
    "fraudulent": ("product", "communication", "receipt", "shipping"),
    "product_not_received": ("shipping", "product", "communication", "receipt"),
    "product_unacceptable": ("product", "communication", "refund", "receipt"),
    "duplicate": ("duplicate", "receipt", "refund"),
    "subscription_canceled": ("cancellation", "communication", "product"),
    "credit_not_processed": ("refund", "communication", "receipt"),
    "unrecognized": ("product", "receipt", "communication", "shipping"),
}
DEFAULT_CALLS_FOR = ("product", "communication", "receipt", "shipping", "refund")

FIELDS: dict[str, Field] = {f.name: f for group in GROUPS.values() for f in group.fields}


def groups_for(reason: str) -> tuple[list[Group], list[Group]]:
    """The groups the reason calls for, in order, and the others."""
    called = CALLS_FOR.get(reason, DEFAULT_CALLS_FOR)
    first = [GROUPS[name] for name in called]
    rest = [group for name, group in GROUPS.items() if name not in called and name != "other"]
    return first, [*rest, GROUPS["other"]]


class EvidenceProblem(ValueError):
    """Evidence Stripe would refuse, said for people."""


def text_evidence(values: dict[str, str]) -> dict[str, str]:
    """The text fields staff filled in, checked against Stripe's combined limit."""
    kept = {
        name: text.strip()
        for name, text in values.items()
        if name in FIELDS and not FIELDS[name].is_file and text.strip()
    }
    total = sum(len(text) for text in kept.values())
    if total > MAX_EVIDENCE_TEXT:
        raise EvidenceProblem(
            f"The evidence's text is {total:,} characters; Stripe takes at most "
            f"{MAX_EVIDENCE_TEXT:,} in all. Shorten it, or attach a document instead."
        )
    return kept


# The first bytes of each kind of file Stripe takes as evidence.
MAGIC = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
)


@dataclass(frozen=True)
class FileKind:
    extension: str
    mime_type: str


def file_kind(content: bytes) -> FileKind:
    """The kind of an uploaded file, from its content; EvidenceProblem if Stripe would
    refuse it (not a PDF, JPEG or PNG, empty, or over 5 MB)."""
    if not content:
        raise EvidenceProblem("The file is empty: choose the document again.")
    if len(content) > MAX_FILE_BYTES:
        raise EvidenceProblem(
            f"The file is {len(content) / 1024 / 1024:.1f} MB; Stripe takes at most 5 MB. "
            "Make it smaller (a PDF of fewer pages, a smaller image) and upload it again."
        )
    for magic, extension, mime in MAGIC:
        if content.startswith(magic):
            return FileKind(extension, mime)
    raise EvidenceProblem(
        "This file is not a PDF, JPEG or PNG (whatever its name says): Stripe takes only "
        "those. Save it as a PDF and upload it again."
    )
