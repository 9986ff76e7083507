"""Sandbox only: pay with localstripe's test cards and pass its stand-in for 3-D Secure.

Nothing here can reach real Stripe: the gateway refuses raw card numbers and the
3-D Secure shortcut unless it runs against localstripe (see payments.gateway.is_sandbox).
"""

from __future__ import annotations

from dashboard.domain.stripe_mapping import PaymentIntentStatus
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.localstripe_compat import SANDBOX_CARDS
from dashboard.services import saved_cards
from dashboard.services.payments import buyer_renewal, checkout, ledger
from dashboard.services.payments.apply import apply_payment_intent, attempt_failed
from dashboard.services.payments.results import ActionRefused, ActionResult

PI = PaymentIntentStatus


def pay_with_test_card(order_id: int, card: str, *, keep_card: bool = False) -> ActionResult:
    """Authorize the order's total (or the new hold the shop asks for) with one of the
    sandbox's test cards; `keep_card`: the buyer ticked the box to keep it on file."""
    if card not in SANDBOX_CARDS:
        raise ActionRefused("Choose one of the test cards.")
    order = ledger.lock_order(order_id)
    if buyer_renewal.waiting(order):
        method = gateway().sandbox_card_payment_method(SANDBOX_CARDS[card][0])
        return buyer_renewal.pay_with_test_card(order, method, keep_card=keep_card)
    order = checkout.lock_startable(order_id)
    payment_method = gateway().sandbox_card_payment_method(SANDBOX_CARDS[card][0])
    saving = saved_cards.saving_for(order, keep_card)
    result = checkout.create_intent(
        order,
        "authorize with test card",
        payment_method=payment_method,
        confirm=True,
        saving=saving,
    )
    if isinstance(result, errors.PaymentError):
        return ActionResult(False, result.message, awaiting_confirmation=result.outcome_unknown)
    apply_payment_intent(order, result, source="pay page")
    return ActionResult(True, checkout.buyer_message(order, result))


def authenticate(order_id: int, ok: bool) -> ActionResult:
    """Pass or fail the verification step localstripe stands in for."""
    order = ledger.lock_order(order_id)
    if order.stripe_payment_intent_id is None:
        raise ActionRefused("There is no payment waiting for verification.")
    current = gateway().retrieve_payment_intent(order.stripe_payment_intent_id)
    if current.status != PI.REQUIRES_ACTION or current.client_secret is None:
        apply_payment_intent(order, current, source="pay page")
        return ActionResult(True, checkout.buyer_message(order, current))
    gateway().sandbox_authenticate(current.id, current.client_secret, ok)
    after = gateway().retrieve_payment_intent(current.id)
    apply_payment_intent(order, after, source="3-D Secure")
    if after.status == PI.REQUIRES_PAYMENT_METHOD:
        # Once per attempt: the re-read above, or the webhook, may have told it already.
        attempt_failed(
            order, after.charge_id or after.id, payment_intent=after.id, reason="3-D Secure failed"
        )
    return ActionResult(after.status == PI.REQUIRES_CAPTURE, checkout.buyer_message(order, after))
