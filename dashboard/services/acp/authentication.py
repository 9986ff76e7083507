"""The agent's 3-D Secure result (ACP's `authentication_result`), read and checked: its
outcome, and for an outcome that lets the payment go on, the values Stripe takes for 3-D
Secure run outside it (`payment_method_options.card.three_d_secure`). Anything missing or
malformed is refused naming its field, before anything is written or sent."""

from __future__ import annotations

import re
from typing import Any

from dashboard.services.acp.answers import AcpRefusal, bad

RESULT = "$.authentication_result"
DETAILS = f"{RESULT}.outcome_details"
# ACP's outcomes that let a payment go on, and the ARes transStatus each stands for.
TRANS_STATUS = {"authenticated": "Y", "attempt_acknowledged": "A", "informational": "I"}
OUTCOMES = frozenset(
    {
        *TRANS_STATUS,
        "abandoned",
        "canceled",
        "denied",
        "internal_error",
        "not_supported",
        "processing_error",
        "rejected",
    }
)
ECI = frozenset({"01", "02", "05", "06", "07"})
VERSION = re.compile(r"[12]\.\d\.\d{1,2}")
CRYPTOGRAM = re.compile(r"[\x21-\x7e]{1,5000}")
TRANSACTION_ID = re.compile(r"[\x21-\x7e]{1,100}")


def result_of(body: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    """The agent's 3-D Secure outcome, and for an outcome that lets the payment go on, the
    values Stripe takes for it (`payment_method_options.card.three_d_secure`); a refusal
    naming the field when anything is missing or malformed."""
    result = body.get("authentication_result")
    if not isinstance(result, dict) or "outcome" not in result:
        raise AcpRefusal(
            400,
            "requires_3ds",
            "This checkout session requires issuer authentication. The request must "
            "include 'authentication_result'.",
            param=RESULT,
        )
    outcome = result["outcome"]
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise bad(
            "invalid", f"outcome must be one of {', '.join(sorted(OUTCOMES))}.", f"{RESULT}.outcome"
        )
    if outcome not in TRANS_STATUS:
        return str(outcome), None
    details = result.get("outcome_details")
    if not isinstance(details, dict):
        raise bad("missing", f"outcome_details is required when the outcome is {outcome}.", DETAILS)
    cryptogram = details.get("three_ds_cryptogram")
    # Stripe's own limit; the value is the provider's (20 bytes are 28 in base64, but the
    # protocol's own example is 27), so its check is left to Stripe.
    if not isinstance(cryptogram, str) or not CRYPTOGRAM.fullmatch(cryptogram):
        raise bad(
            "invalid",
            "three_ds_cryptogram must be the authentication value (CAVV, AAV or AEVV) as your "
            "3-D Secure provider gave it: 1 to 5,000 visible characters.",
            f"{DETAILS}.three_ds_cryptogram",
        )
    eci = details.get("electronic_commerce_indicator")
    if not isinstance(eci, str) or eci not in ECI:
        raise bad(
            "invalid",
            f"electronic_commerce_indicator must be one of {', '.join(sorted(ECI))}.",
            f"{DETAILS}.electronic_commerce_indicator",
        )
    transaction_id = details.get("transaction_id")
    if not isinstance(transaction_id, str) or not TRANSACTION_ID.fullmatch(transaction_id):
        raise bad(
            "invalid",
            "transaction_id must be the 3-D Secure transaction id: 1 to 100 visible characters.",
            f"{DETAILS}.transaction_id",
        )
    version = details.get("version")
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise bad(
            "invalid",
            "version must be the 3-D Secure version, such as 2.2.0.",
            f"{DETAILS}.version",
        )
    return str(outcome), {
        "cryptogram": cryptogram,
        "electronic_commerce_indicator": str(eci),
        "transaction_id": transaction_id,
        "version": version,
        "ares_trans_status": TRANS_STATUS[str(outcome)],
    }
