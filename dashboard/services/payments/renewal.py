"""A new hold for an order whose hold lapsed, or is about to: re-authorizing with the card
the buyer let us keep (off-session), or a new pay link on which the buyer gives it.

Re-authorizing takes the ledger's path, as a capture does: the order locked, the request
and its idempotency key saved and committed before Stripe is called, one money action in
flight per order (so two clicks make one PaymentIntent), an unknown outcome settled by
finding the PaymentIntent that carries the key. Only the amount still to be captured is
asked for, never money already captured. Once the new hold is in place it becomes the
order's payment (`adopt`), the old one is released if it is still open, and the timeline
names both. When the bank wants the buyer to verify, the buyer gets a fresh pay link.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import (
    IllegalTransition,
    PaymentEvent,
    StaffAction,
    Transition,
)
from dashboard.domain.state_machine import check_action as machine_allows
from dashboard.domain.stripe_mapping import (
    MAPPING_VERSION,
    PaymentIntentStatus,
)
from dashboard.models import Order, RequestStatus, StripeRequest, TimelineKind, User, utcnow
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.saved_cards import KEY_METADATA, CardSaving
from dashboard.payments.snapshots import PaymentIntentSnapshot
from dashboard.services import timeline
from dashboard.services.alerts import alert_window
from dashboard.services.buyer_notices import PayAgainReason, ask_buyer_to_pay_again
from dashboard.services.payments import ledger, records, replaced_holds
from dashboard.services.payments.apply import move
from dashboard.services.payments.results import ActionInProgress, ActionRefused, ActionResult

PI = PaymentIntentStatus
RENEWALS = (StaffAction.REAUTHORIZE.value, StaffAction.NEW_PAY_LINK.value)
# The PaymentIntent of a new hold names the one it replaces, for people reading Stripe.
REPLACES_METADATA = "replaces_payment_intent"
# Stripe keeps an idempotency key's answer for at least 24 hours; stay inside that.
IDEMPOTENCY_WINDOW = timedelta(hours=23)


def remaining(order: Order) -> int:
    """What a new hold asks for: what the current hold still holds, or once it lapsed, the
    order's total less what was already captured (never money already taken)."""
    if order.order_state is OrderState.AUTHORIZED:
        return order.amount_capturable
    return max(order.total_amount - order.amount_captured, 0)


def has_saved_card(order: Order) -> bool:
    return bool(order.saved_payment_method_id and order.stripe_customer_id)


def renewal_due(order: Order, now: datetime | None = None) -> bool:
    """The hold lapsed, or its deadline is within the alert window (HOLD_ALERT_HOURS)."""
    if order.order_state is OrderState.EXPIRED:
        return order.amount_captured == 0
    if order.order_state is not OrderState.AUTHORIZED or order.capture_before is None:
        return False
    return order.capture_before - (now or utcnow()) <= alert_window()


def offered(order: Order, action: StaffAction) -> bool:
    """Whether the order page offers the action now (the checks below, as a yes or no)."""
    try:
        check(order, action)
    except ActionRefused:
        return False
    return True


def check(order: Order, action: StaffAction) -> None:
    """ActionRefused unless the action can be taken on the order now; nothing is sent."""
    try:
        machine_allows(order.order_state, action)
    except IllegalTransition as error:
        raise ActionRefused(str(error)) from error
    if ledger.in_flight(order) is not None:
        raise ActionInProgress(
            "Another action on this order is still waiting for Stripe. Nothing new was sent."
        )
    if not renewal_due(order):
        hours = int(alert_window().total_seconds() // 3600)
        raise ActionRefused(
            f"The hold has not lapsed and is not within {hours} hours of its deadline: "
            "nothing to renew yet."
        )
    if remaining(order) <= 0:
        raise ActionRefused("Everything on this order was captured: nothing is left to hold.")
    if action is StaffAction.REAUTHORIZE and not has_saved_card(order):
        raise ActionRefused(
            "The buyer did not let the shop keep their card: send them a new pay link instead."
        )


def sentence(order: Order, action: StaffAction) -> tuple[str, str]:
    """What the action will do, in plain words, and its button's words."""
    amount = order.money(remaining(order))
    lapsed = order.order_state is OrderState.EXPIRED
    old = "The old hold has lapsed." if lapsed else "The old hold is released once it is."
    captured = (
        f" The {order.money(order.amount_captured)} already captured is not asked for again."
        if order.amount_captured
        else ""
    )
    if action is StaffAction.REAUTHORIZE:
        return (
            f"Place a new hold of {amount} on the card the buyer let the shop keep, without "
            f"asking them. {old}{captured} If their bank wants them to verify it, they get a "
            "new pay link instead.",
            f"Re-authorize {amount}",
        )
    return (
        f"Make a new pay link for the buyer to place a new hold of {amount} on the pay "
        f"page. {'' if lapsed else 'The current hold stays until the new one is in place. '}"
        f"{captured.strip()}".strip(),
        "Send the buyer a new pay link",
    )


# -- staff actions ------------------------------------------------------------------------


def reauthorize(order_id: int, actor: User) -> ActionResult:
    """A new hold with the saved card, off-session, sent exactly once."""
    order = ledger.lock_order(order_id)
    check(order, StaffAction.REAUTHORIZE)
    gateway()  # a missing key is reported before anything is written
    return send(order, _ask(order, actor, StaffAction.REAUTHORIZE))


def new_pay_link(order_id: int, actor: User) -> ActionResult:
    """A new payment for the remaining amount, confirmed by the buyer on a fresh pay link."""
    order = ledger.lock_order(order_id)
    check(order, StaffAction.NEW_PAY_LINK)
    gateway()
    if order.renewal_payment_intent_id is not None:
        # One is already waiting for the buyer: the same payment, a freshly signed link.
        # Staff asked to send it again: a new email each time they do.
        link = ask_buyer_to_pay_again(
            order,
            remaining(order),
            PayAgainReason.NEW_LINK,
            actor=actor,
            dedupe_key=f"again:{secrets.token_hex(8)}",
        )
        return ActionResult(True, f"The buyer's new pay link (sent again): {link}")
    return send(order, _ask(order, actor, StaffAction.NEW_PAY_LINK))


def _ask(order: Order, actor: User | None, action: StaffAction) -> StripeRequest:
    amount = remaining(order)
    request = ledger.begin(order, action.value, amount, actor)
    timeline.append(
        order,
        TimelineKind.STAFF_ACTION,
        f"{actor.email if actor else 'The system'} asked for "
        + (
            "a new hold with the saved card"
            if action is StaffAction.REAUTHORIZE
            else "a new pay link"
        )
        + f" of {order.money(amount)}",
        actor=actor,
        data={
            "action": action.value,
            "amount": amount,
            "idempotency_key": request.idempotency_key,
            "payment_intent": order.stripe_payment_intent_id,
        },
    )
    return request


def send(order: Order, request: StripeRequest) -> ActionResult:
    """Send (or resend, from `settle_request`) a saved renewal exactly as it was asked."""
    reauthorizing = request.action == StaffAction.REAUTHORIZE.value
    replaces = order.stripe_payment_intent_id or ""
    result = ledger.send(
        order,
        request,
        "re-authorize" if reauthorizing else "new pay link",
        lambda: gateway().create_payment_intent(
            amount=request.amount or 0,
            currency=order.currency,
            order_id=order.id,
            idempotency_key=request.idempotency_key,
            payment_method=order.saved_payment_method_id if reauthorizing else None,
            confirm=reauthorizing,
            off_session=reauthorizing,
            saving=CardSaving(order.stripe_customer_id, keep=False)
            if order.stripe_customer_id
            else None,
            metadata={KEY_METADATA: request.idempotency_key, REPLACES_METADATA: replaces},
            description=f"Order {order.number} (new hold)",
        ),
    )
    if isinstance(result, errors.CardDeclined) and result.needs_the_buyer:
        return _needs_the_buyer(order, request, result.payment_intent_id, result.message)
    if isinstance(result, errors.PaymentError):
        return ActionResult(False, result.message, awaiting_confirmation=result.outcome_unknown)
    return answered(order, request, result)


def answered(order: Order, request: StripeRequest, snapshot: PaymentIntentSnapshot) -> ActionResult:
    """What Stripe's PaymentIntent for a renewal request means for the order."""
    if request.action == StaffAction.NEW_PAY_LINK.value:
        order.renewal_payment_intent_id = snapshot.id
        link = ask_buyer_to_pay_again(
            order,
            request.amount or 0,
            PayAgainReason.NEW_LINK,
            actor=request.actor,
            dedupe_key=request.idempotency_key,
        )
        return ActionResult(True, f"A new pay link for {order.money(request.amount or 0)}: {link}")
    if snapshot.status == PI.REQUIRES_CAPTURE:
        return adopt(order, snapshot, source="re-authorize answer", actor=request.actor)
    if snapshot.status in (PI.REQUIRES_ACTION, PI.REQUIRES_PAYMENT_METHOD):
        return _needs_the_buyer(order, request, snapshot.id, None)
    return ActionResult(False, f"Stripe says the new hold is {snapshot.status}; nothing is held.")


def _needs_the_buyer(
    order: Order, request: StripeRequest, payment_intent_id: str | None, why: str | None
) -> ActionResult:
    """The bank wants the buyer to verify: the new payment waits for them on a pay link."""
    if payment_intent_id:
        order.renewal_payment_intent_id = payment_intent_id
    amount = request.amount or 0
    link = ask_buyer_to_pay_again(
        order,
        amount,
        PayAgainReason.VERIFY,
        actor=request.actor,
        dedupe_key=request.idempotency_key,
    )
    return ActionResult(
        False,
        "The buyer's bank wants the buyer to verify this hold, so nothing new is held yet"
        + (f" ({why})" if why else "")
        + f". A fresh pay link for {order.money(amount)} is ready for them: {link}",
    )


def adopt(
    order: Order,
    snapshot: PaymentIntentSnapshot,
    *,
    source: str,
    actor: User | None = None,
    release_now: bool = True,
) -> ActionResult:
    """The new hold becomes the order's payment; the old one is released if still open (at
    once, or without `release_now` by the next sweep: services/payments/replaced_holds.py)."""
    old, was_held = order.stripe_payment_intent_id, order.order_state is OrderState.AUTHORIZED
    if old == snapshot.id:
        return ActionResult(True, "The new hold is already the order's payment.")
    if order.order_state not in (OrderState.AUTHORIZED, OrderState.EXPIRED):
        # Captured or voided meanwhile: the new hold has nothing to stand for.
        order.renewal_payment_intent_id = None
        return ActionResult(
            False,
            "The order moved on meanwhile. " + _replaced(order, snapshot.id, actor, release_now),
        )
    facts = {
        "amount": snapshot.amounts.capturable,
        "capture_before": snapshot.hold_deadline.isoformat(),
        "payment_intent": snapshot.id,
        "previous_payment_intent": old,
    }
    detail = f"new hold {snapshot.id} replaces {old}"
    outcome = move(order, PaymentEvent.REAUTHORIZED, source=source, detail=detail, facts=facts)
    if isinstance(outcome, Transition) and not outcome.changed:
        # Still authorized, but on another payment: the timeline links the two all the same.
        timeline.append(
            order,
            TimelineKind.STATE_CHANGE,
            f"Authorized → Authorized ({detail}, from {source})",
            data={
                "from": OrderState.AUTHORIZED.value,
                "to": OrderState.AUTHORIZED.value,
                "event": PaymentEvent.REAUTHORIZED.value,
                "source": source,
                "mapping_version": MAPPING_VERSION,
                **facts,
            },
        )
    order.stripe_payment_intent_id = snapshot.id
    order.stripe_charge_id = snapshot.charge_id
    order.renewal_payment_intent_id = None
    order.amount_authorized = order.amount_captured + snapshot.amounts.authorized
    order.amount_capturable = snapshot.amounts.capturable
    order.authorized_at = utcnow()
    order.capture_before = snapshot.hold_deadline
    order.last_payment_error = None
    records.note_payment_intent(order, snapshot)
    released = ""
    if was_held and old:
        released = " " + _replaced(order, old, actor, release_now)
    return ActionResult(
        True,
        f"A new hold of {order.money(order.amount_capturable)} is in place.{released}",
    )


def _replaced(order: Order, payment_intent_id: str, actor: User | None, now: bool) -> str:
    if now:
        return replaced_holds.release(order, payment_intent_id, actor)
    replaced_holds.defer(order, payment_intent_id, actor)
    return f"The hold {payment_intent_id} is released by the next sweep (or Check with Stripe)."


# -- settling an unanswered renewal -------------------------------------------------------


def settle_request(order: Order, request: StripeRequest) -> ActionResult:
    """Find the renewal's PaymentIntent at Stripe by its key; only when Stripe has none is
    the very same request sent again (a 500 replayed, or a forgotten key: not done)."""
    found: PaymentIntentSnapshot | None = None
    if order.stripe_customer_id:
        try:
            found = gateway().find_payment_intent(order.stripe_customer_id, request.idempotency_key)
        except errors.PaymentError as error:
            return ActionResult(False, error.message, awaiting_confirmation=True)
    if found is not None:
        ledger.finish(
            order,
            request,
            RequestStatus.SUCCEEDED,
            what=f"{request.action} (found at Stripe by its key)",
            object_id=found.id,
            request_id=found.request_id,
        )
        return answered(order, request, found)
    too_old = utcnow() - request.created_at > IDEMPOTENCY_WINDOW
    if request.error_code == errors.STRIPE_INTERNAL_ERROR or too_old:
        failure = errors.InvalidRequest(
            f"Stripe shows the {request.action} did not happen. Nothing moved; you can try again.",
            code=request.error_code or "not_found_at_stripe",
        )
        ledger.finish(order, request, RequestStatus.FAILED, what=request.action, error=failure)
        return ActionResult(False, failure.message)
    return send(order, request)
