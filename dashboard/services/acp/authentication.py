"""The agent's 3-D Secure result (ACP's `authentication_result`), read and checked: its
outcome, and for an outcome that lets the payment go on, the values Stripe takes for 3-D
Secure run outside it (`payment_method_options.card.three_d_secure`). Anything missing or
malformed is refused naming its field, before anything is written or sent."""

from __future__ import annotations

import re
from collections.abc import Callable
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
ECI = ("01", "02", "05", "06", "07")
VISIBLE = re.compile(r"[\x21-\x7e]+")
VERSION = re.compile(r"[12]\.\d\.\d{1,2}")
# Each of `outcome_details`' fields, what it must be, and the words that say so. The
# cryptogram is as the agent's 3-D Secure provider gave it: 20 bytes are 28 characters in
# base64, but the protocol's own example has 27, so its check is Stripe's (5,000 at most).
CHECKS: tuple[tuple[str, Callable[[str], bool], str], ...] = (
    (
        "three_ds_cryptogram",
        lambda v: len(v) <= 5000 and bool(VISIBLE.fullmatch(v)),
        "the authentication value (CAVV, AAV or AEVV) as your 3-D Secure provider gave it: "
        "1 to 5,000 visible characters",
    ),
    ("electronic_commerce_indicator", lambda v: v in ECI, f"one of {', '.join(ECI)}"),
    (
        "transaction_id",
        lambda v: len(v) <= 100 and bool(VISIBLE.fullmatch(v)),
        "the 3-D Secure transaction id: 1 to 100 visible characters",
    ),
    ("version", lambda v: bool(VERSION.fullmatch(v)), "the 3-D Secure version, such as 2.2.0"),
)


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
        return outcome, None
    details = result.get("outcome_details")
    if not isinstance(details, dict):
        raise bad("missing", f"outcome_details is required when the outcome is {outcome}.", DETAILS)
    values: dict[str, str] = {}
    for field, fits, wanted in CHECKS:
        value = details.get(field)
        if not isinstance(value, str) or not fits(value):
            raise bad("invalid", f"{field} must be {wanted}.", f"{DETAILS}.{field}")
        values[field] = value
    return outcome, {
        "cryptogram": values["three_ds_cryptogram"],
        "electronic_commerce_indicator": values["electronic_commerce_indicator"],
        "transaction_id": values["transaction_id"],
        "version": values["version"],
        "ares_trans_status": TRANS_STATUS[outcome],
    }
