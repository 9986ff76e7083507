"""The buyer's side of a new hold: on a fresh pay link, the buyer confirms the payment the
shop opened for the amount still to be captured (their bank asked them to verify a
re-authorization, or staff sent a new pay link). Once it holds the money it becomes the
order's payment (`renewal.adopt`), exactly as a re-authorization with the saved card does.
"""

from __future__ import annotations

from dashboard.domain.orders import OrderState
from dashboard.domain.stripe_mapping import PAYABLE_STATUSES, PaymentIntentStatus
from dashboard.models import Order
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.saved_cards import KEY_METADATA
from dashboard.payments.snapshots import PaymentIntentSnapshot
from dashboard.services import saved_cards
from dashboard.services.payments import ledger, renewal
from dashboard.services.payments.results import ActionRefused, ActionResult

PI = PaymentIntentStatus
NO_LONGER_PAYABLE = (
    "This payment can no longer be made here. Ask the shop to send you a new pay link."
)


def waiting(order: Order) -> bool:
    """A new hold the buyer is asked to confirm on their pay link."""
    return order.renewal_payment_intent_id is not None and order.order_state in (
        OrderState.AUTHORIZED,
        OrderState.EXPIRED,
    )


def payable(order: Order) -> PaymentIntentSnapshot | None:
    """The new payment, re-read, while our payment page can confirm it; once it holds the
    money it is adopted and None is answered (the pay page says where things stand)."""
    current = gateway().retrieve_payment_intent(order.renewal_payment_intent_id or "")
    if current.status in PAYABLE_STATUSES:
        return current
    if current.status == PI.REQUIRES_CAPTURE:
        renewal.adopt(order, current, source="pay page")
    return None


def open_renewal(order: Order, *, keep_card: bool) -> PaymentIntentSnapshot:
    """The new payment for our payment page, told whether the buyer agreed to keep the card."""
    current = payable(order)
    if current is None:
        raise ActionRefused(NO_LONGER_PAYABLE)
    saving = saved_cards.saving_for(order, keep_card)
    if saving is not None:
        return gateway().set_card_saving(current.id, saving)
    return current


def pay_with_test_card(order: Order, payment_method: str, *, keep_card: bool) -> ActionResult:
    """Sandbox: the new hold given with a test card, in a payment of its own (localstripe
    cannot confirm an existing payment with a new card) for the same amount."""
    amount = renewal.remaining(order)
    saving = saved_cards.saving_for(order, keep_card)
    request = ledger.begin(order, "create_payment_intent", amount, None)
    result = ledger.send(
        order,
        request,
        "new hold with test card",
        lambda: gateway().create_payment_intent(
            amount=amount,
            currency=order.currency,
            order_id=order.id,
            idempotency_key=request.idempotency_key,
            payment_method=payment_method,
            confirm=True,
            saving=saving,
            metadata={
                KEY_METADATA: request.idempotency_key,
                renewal.REPLACES_METADATA: order.stripe_payment_intent_id or "",
            },
            description=f"Order {order.number} (new hold)",
        ),
    )
    if isinstance(result, errors.PaymentError):
        return ActionResult(False, result.message, awaiting_confirmation=result.outcome_unknown)
    if result.status != PI.REQUIRES_CAPTURE:
        return ActionResult(False, "Your bank did not place the hold. Try another test card.")
    saved_cards.note_saved_card(order, result)
    done = renewal.adopt(order, result, source="pay page")
    if not done.ok:
        return done
    return ActionResult(
        True,
        f"{order.money(order.amount_capturable)} is on hold on your card; you will be "
        "charged when the merchant confirms your order.",
    )
