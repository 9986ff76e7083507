"""What the sandbox's localstripe does differently from Stripe, and the mending for it.

Active only when the app runs against localstripe (see `payments.gateway`): never with a
live key, never against api.stripe.com. Every rule here is a documented localstripe gap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboard.domain.buyer_words import decline_sentence
from dashboard.domain.stripe_mapping import PaymentIntentStatus
from dashboard.payments import errors

# Parameters real Stripe accepts that localstripe rejects with 400 "Unexpected ...".
UNSUPPORTED_PARAMS: dict[str, frozenset[str]] = {
    "payment_intents.create": frozenset(
        {
            "description",
            "receipt_email",
            "automatic_payment_methods",
            "return_url",
            "payment_method_types",
            # Saving the card is done by `after_create` instead.
            "setup_future_usage",
        }
    ),
    "payment_intents.update": frozenset({"setup_future_usage"}),
    # It lists every PaymentIntent it has: the gateway filters by customer itself.
    "payment_intents.list": frozenset({"customer"}),
    "payment_intents.cancel": frozenset({"cancellation_reason"}),
    "refunds.create": frozenset({"reason"}),
    # Accepted by its PaymentIntent create (and ignored): it grants no card feature, so the
    # order page never offers several captures, increments or overcapture in the sandbox.
    "payment_intents.capture": frozenset({"final_capture"}),
}
# Calls localstripe has no endpoint for: refused here with words, never sent.
NO_MULTICAPTURE = (
    "Several captures are not available in the sandbox: localstripe has no multicapture "
    "(a capture there always releases the rest)."
)
UNSUPPORTED_OPERATIONS: dict[str, str] = {
    "payment_intents.increment_authorization": (
        "A larger hold is not available in the sandbox: localstripe has no incremental "
        "authorization."
    ),
}

# The sandbox's test cards, as the pay page offers them.
SANDBOX_CARDS: dict[str, tuple[str, str]] = {
    "success": ("4242424242424242", "Visa, authorizes"),
    "decline": ("4000000000000341", "Visa, declined by the bank"),
    "3ds": ("4000002500003155", "Visa, asks for 3-D Secure"),
}
# The sandbox's shared payment tokens: `spt_test_<card>` or `spt_test_<card>_<anything>`
# stands for the test card of that name (localstripe has no shared payment tokens).
SANDBOX_TOKEN = re.compile(r"spt_test_(success|decline|3ds)(?:_[A-Za-z0-9_]*)?")


@dataclass(frozen=True)
class LocalstripeCompat:
    # `GET /v1/events` lists oldest first (Stripe: newest first) and refuses `ending_before`
    # ("Unexpected ending_before"); `starting_after` and `created[gte]` work, but an unknown
    # `starting_after` id silently restarts the list from its beginning. It has no
    # `delivery_success` filter and keeps events only until it restarts.
    events_oldest_first: bool = True

    def params(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation in UNSUPPORTED_OPERATIONS or (
            operation == "payment_intents.capture" and params.get("final_capture") is False
        ):
            # Dropping `final_capture=false` would release the rest of the hold: refuse.
            raise errors.SandboxOnly(UNSUPPORTED_OPERATIONS.get(operation, NO_MULTICAPTURE))
        dropped = UNSUPPORTED_PARAMS.get(operation, frozenset())
        return {key: value for key, value in params.items() if key not in dropped}

    def shared_token_params(
        self, params: dict[str, Any], card_method: Callable[[str], str]
    ) -> dict[str, Any]:
        """A PaymentIntent paid with a sandbox token (`SANDBOX_TOKEN`), as localstripe takes
        it: the token's test card as a payment method. Any other token is one Stripe would
        not know: refused as Stripe refuses it, with nothing sent."""
        data = dict(params.get("payment_method_data") or {})
        token = data.pop("shared_payment_granted_token", None)
        found = SANDBOX_TOKEN.fullmatch(token) if isinstance(token, str) else None
        if found is None:
            raise errors.InvalidRequest(
                "The sandbox knows only the test tokens spt_test_success, spt_test_decline "
                "and spt_test_3ds.",
                code="resource_missing",
                http_status=400,
            )
        mended = {key: value for key, value in params.items() if key != "payment_method_data"}
        mended["payment_method"] = card_method(SANDBOX_CARDS[found.group(1)][0])
        return mended

    def after_create(
        self,
        sent: dict[str, Any],
        raw: dict[str, Any],
        attach: Callable[[str, str], None],
    ) -> None:
        """What Stripe does after a PaymentIntent is created that localstripe does not.

        Saving: with `setup_future_usage` (`sent` is what was asked, before
        `params` dropped it) Stripe attaches
        the card to the customer once the payment authorizes. Off-session: where Stripe
        answers 402 `authentication_required` (the bank wants the buyer), localstripe puts
        the PaymentIntent in `requires_action` and answers 200.
        """
        method, customer = raw.get("payment_method"), raw.get("customer")
        held = raw.get("status") == PaymentIntentStatus.REQUIRES_CAPTURE
        if (
            "setup_future_usage" in sent
            and held
            and isinstance(method, str)
            and isinstance(customer, str)
        ):
            attach(method, customer)
        if sent.get("off_session") and raw.get("status") == PaymentIntentStatus.REQUIRES_ACTION:
            refusal = errors.CardDeclined(
                decline_sentence(errors.AUTHENTICATION_REQUIRED),
                code=errors.AUTHENTICATION_REQUIRED,
                http_status=402,
            )
            refusal.payment_intent_id = str(raw["id"])
            raise refusal

    def payment_intent(
        self,
        raw: dict[str, Any],
        card: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """Fill in what localstripe leaves out, the way Stripe would report it.

        localstripe omits amount_capturable, amount_received and the charge's
        amount_captured. It records the part of a hold released by a partial capture as a
        refund without metadata (our refunds always carry metadata), which is how the
        captured amount is found; like Stripe, the charge's amount_refunded counts both,
        but Stripe lists no such refund, and its balance transaction is for what was
        captured (localstripe's is for the whole hold). Its charges have no
        `payment_method_details`: `card` reads them from the charge's payment method.
        """
        raw = dict(raw)
        status = raw.get("status")
        charge = raw.get("latest_charge")
        if raw.get("amount_capturable") is None:
            held = status == PaymentIntentStatus.REQUIRES_CAPTURE
            raw["amount_capturable"] = raw["amount"] if held else 0
        if isinstance(charge, dict):
            charge = dict(charge)
            refunds = (charge.get("refunds") or {}).get("data") or []
            released = sum(int(r["amount"]) for r in refunds if not r.get("metadata"))
            ours = sum(int(r["amount"]) for r in refunds if r.get("metadata"))
            captured = int(charge["amount"]) - released if charge.get("captured") else 0
            charge["amount_captured"] = captured
            charge["amount_refunded"] = released + ours
            listed = [r for r in refunds if r.get("metadata")]
            charge["refunds"] = {**(charge.get("refunds") or {}), "data": listed}
            balance = charge.get("balance_transaction")
            if isinstance(balance, dict) and charge.get("captured"):
                fee = int(balance.get("fee") or 0)
                charge["balance_transaction"] = {
                    **balance,
                    "amount": captured,
                    "net": captured - fee,
                }
            method = charge.get("payment_method")
            if not charge.get("payment_method_details") and isinstance(method, str) and card:
                found = card(method)
                if found is not None:
                    charge["payment_method_details"] = {"type": "card", "card": found}
            raw["latest_charge"] = charge
            if raw.get("amount_received") is None:
                raw["amount_received"] = captured
        error, method = raw.get("last_payment_error"), raw.get("payment_method")
        if isinstance(error, dict) and "payment_method" not in error and card:
            # Stripe names the failed attempt's payment method in the error; localstripe
            # names it only on the PaymentIntent.
            found = card(method) if isinstance(method, str) else None
            if found is not None:
                raw["last_payment_error"] = {
                    **error,
                    "payment_method": {"id": method, "card": found},
                }
        return raw
