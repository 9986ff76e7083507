"""The buyer's payment: our payment page's PaymentIntent, or a Stripe Checkout Session,
started at most once per attempt, and what the buyer is told about it."""

from __future__ import annotations

from datetime import timedelta

from dashboard.domain.buyer_words import BuyerStatus, Waiting, payment_status
from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import PaymentEvent
from dashboard.domain.stripe_mapping import (
    PAYABLE_STATUSES,
    Amounts,
    CheckoutSessionStatus,
    PaymentIntentStatus,
)
from dashboard.models import Order, utcnow
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.saved_cards import CardSaving
from dashboard.payments.snapshots import PaymentIntentSnapshot
from dashboard.services import buyer_limits, card_requests, outbox, saved_cards
from dashboard.services.buyer_limits import BuyerCaller
from dashboard.services.outbox import OutboxType
from dashboard.services.payments import buyer_renewal, ledger, records
from dashboard.services.payments.apply import (
    apply_checkout_session,
    apply_payment_intent,
    attempt_failed,
    move,
)
from dashboard.services.payments.results import ActionRefused, ActionResult
from dashboard.services.payments.settle import refresh_from_stripe

PI = PaymentIntentStatus
# The states in which a buyer may (still, or again) start paying.
STARTABLE = (OrderState.OPEN, OrderState.FAILED, OrderState.PROCESSING)
# An open Checkout Session this close to expiring is replaced rather than reused.
SESSION_REUSE_MARGIN = timedelta(minutes=10)


def lock_startable(order_id: int) -> Order:
    """The order, locked, if a payment may be started for it."""
    order = ledger.lock_order(order_id)
    _check_startable(order)
    return order


def _check_startable(order: Order) -> None:
    gateway()  # a missing key is reported before anything is written
    if order.order_state not in STARTABLE:
        raise ActionRefused(f"This order is already {order.order_state.label.lower()}.")


def _started(order: Order, object_id: str) -> None:
    move(order, PaymentEvent.STARTED, source="pay page", detail="payment started")
    outbox.emit(order, OutboxType.ORDER_CREATED, str(order.id), payment_object=object_id)


def create_intent(
    order: Order,
    what: str,
    *,
    payment_method: str | None = None,
    confirm: bool = False,
    saving: CardSaving | None = None,
) -> PaymentIntentSnapshot | errors.PaymentError:
    """Create (and with `confirm`, authorize) a manual-capture PaymentIntent for the order.

    A decline fails the attempt (the buyer may try again); anything else leaves the order.
    """
    request = ledger.begin(order, "create_payment_intent", order.total_amount, None)
    result = ledger.send(
        order,
        request,
        what,
        lambda: gateway().create_payment_intent(
            amount=order.total_amount,
            currency=order.currency,
            order_id=order.id,
            idempotency_key=request.idempotency_key,
            payment_method=payment_method,
            confirm=confirm,
            description=f"Order {order.number}",
            card_requests=card_requests.to_send(order),
            saving=saving,
        ),
    )
    if isinstance(result, errors.CardDeclined):
        order.last_payment_error = result.message
        if result.attempt is not None:
            records.keep_attempt(order, result.attempt)
        move(
            order,
            PaymentEvent.FAILED,
            source="pay page",
            detail=result.message,
            facts={"stripe_code": result.code},
        )
        # Named by its charge, as the webhook about the same attempt names it: one event.
        attempt = result.charge_id or request.idempotency_key
        attempt_failed(order, attempt, payment_intent=None, reason=result.message)
    if isinstance(result, errors.PaymentError):
        return result
    order.stripe_payment_intent_id = result.id
    _started(order, result.id)
    return result


def open_payment_intent(order_id: int, *, keep_card: bool = False) -> PaymentIntentSnapshot:
    """The order's PaymentIntent for our payment page: reused while it can still be paid,
    told whether the buyer agreed to keep the card (`keep_card`, the box on the pay page)."""
    order = ledger.lock_order(order_id)
    if buyer_renewal.waiting(order):
        return buyer_renewal.open_renewal(order, keep_card=keep_card)
    _check_startable(order)
    had_consent = order.card_consent_at is not None
    saving = saved_cards.saving_for(order, keep_card)
    if order.stripe_payment_intent_id:
        current = gateway().retrieve_payment_intent(order.stripe_payment_intent_id)
        if current.status in PAYABLE_STATUSES:
            if keep_card or had_consent:
                # Made before the box was ticked (or unticked): told now, before it is paid.
                return gateway().set_card_saving(current.id, saving)
            return current
        apply_payment_intent(order, current, source="pay page")
        if current.status == PI.PROCESSING:
            # The bank has not answered the first payment: a second one could charge twice.
            raise ActionRefused(buyer_message(order, current))
        _check_startable(order)
    result = create_intent(order, "create payment intent", saving=saving)
    if isinstance(result, errors.PaymentError):
        raise result
    return result


def payable_intent(order_id: int, caller: BuyerCaller) -> PaymentIntentSnapshot | None:
    """The order's PaymentIntent, re-read, if our payment page can still confirm it; None
    once it cannot (what Stripe says is applied) or when no payment was opened. Never
    creates one: that is `open_payment_intent`'s, from the buyer's click. The read counts
    against the caller's limits (TooManyStripeCalls)."""
    order = ledger.lock_order(order_id)
    if buyer_renewal.waiting(order):
        buyer_limits.admit(order.id, caller, buyer_limits.PAYMENT)
        return buyer_renewal.payable(order)
    if order.stripe_payment_intent_id is None or order.order_state not in STARTABLE:
        return None
    buyer_limits.admit(order.id, caller, buyer_limits.PAYMENT)
    current = gateway().retrieve_payment_intent(order.stripe_payment_intent_id)
    if current.status in PAYABLE_STATUSES:
        return current
    apply_payment_intent(order, current, source="pay page")
    return None


def refresh_for_buyer(order_id: int, caller: BuyerCaller) -> ActionResult:
    """The return page's re-read of the payment from Stripe, at most once per order per
    interval (in any worker); otherwise what is stored. TooManyStripeCalls when the
    caller's pay link or address has reached Stripe too often."""
    order = ledger.lock_order(order_id)
    nothing_started = order.stripe_payment_intent_id is None
    if nothing_started and order.stripe_checkout_session_id is None:
        return ActionResult(True, buyer_message(order, None))
    if not buyer_limits.reread_due(order.id, caller.limits):
        return ActionResult(True, buyer_message(order, None))
    buyer_limits.admit(order.id, caller, buyer_limits.REREAD)
    return refresh_from_stripe(order.id)


# What a payment under way waits for, by the PaymentIntent's status.
_WAITING: dict[str, Waiting] = {
    PI.REQUIRES_ACTION: Waiting.VERIFICATION,
    PI.PROCESSING: Waiting.BANK,
}


def buyer_status(
    order: Order, snapshot: PaymentIntentSnapshot | None, *, waiting: Waiting | None = None
) -> BuyerStatus:
    """Where the buyer's payment stands, as a sentence: from the order's state and amounts,
    and what the payment is waiting for (`waiting`, else as Stripe has just said)."""
    if waiting is None and snapshot is not None:
        waiting = _WAITING.get(snapshot.status)
    return payment_status(
        order.order_state,
        Amounts(
            authorized=order.amount_authorized,
            capturable=order.amount_capturable,
            captured=order.amount_captured,
            refunded=order.amount_refunded,
        ),
        total=order.total_amount,
        currency=order.currency,
        failure=order.last_payment_error,
        waiting=waiting,
    )


def buyer_message(order: Order, snapshot: PaymentIntentSnapshot | None) -> str:
    """What the buyer is told about their payment (`buyer_status`'s sentence)."""
    return buyer_status(order, snapshot).sentence


def start_checkout(
    order_id: int,
    *,
    success_url: str,
    cancel_url: str,
    lifetime: timedelta,
    keep_card: bool = False,
) -> str:
    """A Stripe Checkout URL for the order: the open session again (when the buyer's answer
    about keeping the card is the one it was made with), or a new one."""
    order = lock_startable(order_id)
    consent_changed = (order.card_consent_at is not None) != keep_card
    saving = saved_cards.saving_for(order, keep_card)
    if order.stripe_checkout_session_id:
        current = gateway().retrieve_checkout_session(order.stripe_checkout_session_id)
        if current.status == CheckoutSessionStatus.COMPLETE:
            apply_checkout_session(order, current, source="pay page")
            refreshed = refresh_from_stripe(order.id)
            raise ActionRefused(refreshed.message)
        if current.status == CheckoutSessionStatus.OPEN:
            if (
                current.url
                and not consent_changed
                and current.expires_at
                and current.expires_at - utcnow() > SESSION_REUSE_MARGIN
            ):
                return current.url
            expire = ledger.begin(order, "expire_checkout_session", None, None)
            expired = ledger.send(
                order,
                expire,
                "expire checkout session",
                lambda: gateway().expire_checkout_session(
                    current.id, idempotency_key=expire.idempotency_key
                ),
            )
            if isinstance(expired, errors.PaymentError):
                raise expired
    request = ledger.begin(order, "create_checkout_session", order.total_amount, None)
    session = ledger.send(
        order,
        request,
        "create checkout session",
        lambda: gateway().create_checkout_session(
            order_id=order.id,
            currency=order.currency,
            line_items=[
                (line.description, line.quantity, line.unit_amount) for line in order.lines
            ],
            customer_email=order.buyer_email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=utcnow() + lifetime,
            idempotency_key=request.idempotency_key,
            card_requests=card_requests.to_send(order),
            saving=saving,
        ),
    )
    if isinstance(session, errors.PaymentError):
        raise session
    order.stripe_checkout_session_id = session.id
    _started(order, session.id)
    if not session.url:
        raise errors.InvalidRequest("Stripe did not return a checkout page address.")
    return session.url
