"""`flask stripe sweep-holds`: ask Stripe about open payments, and mind the holds' deadlines.

Webhooks can be missed and a sync can lag, so the sweep asks Stripe directly. Every order
not in a final state, older than a threshold (its webhooks have had their chance) and with
a Stripe payment is re-read: its PaymentIntent, or its Checkout Session until that has
one. Where Stripe's state or amounts differ from the order's, the drift is written on the
order's timeline and in the report, and Stripe's truth is applied forward-only through the
payments service, exactly as a webhook would be. An order with a capture, void or refund
still awaiting Stripe's answer is left to its settlement ("Check with Stripe") and listed.

Then the holds whose capture deadline is within 24 hours are listed, and those past it;
staff are emailed about each hold inside the alert window (HOLD_ALERT_HOURS) or past its
deadline, once per hold (services/alerts.py).
When the merchant has enabled it (SWEEP_VOID_EXPIRED_HOLDS) and the sweep is asked to, the
holds past their deadline are voided through the payments service, as a staff member's
void is: the idempotency key saved first, one request in flight per order.

Each order is read and corrected in a unit of work of its own, under its row lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import (
    TERMINAL,
    IllegalTransition,
    PaymentEvent,
    destination,
)
from dashboard.domain.stripe_mapping import (
    CHECKOUT_SESSION_STATUS,
    CancellationReason,
    UnmappedStatus,
)
from dashboard.extensions import db
from dashboard.models import Order, TimelineKind, utcnow
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import CheckoutSessionSnapshot, PaymentIntentSnapshot
from dashboard.services import alerts, orders, timeline
from dashboard.services.payments import ledger, replaced_holds, staff
from dashboard.services.payments.apply import (
    apply_checkout_session,
    apply_payment_intent,
    payment_event,
)
from dashboard.services.payments.results import ActionRefused
from dashboard.transactions import unit_of_work

log = logging.getLogger(__name__)

DEFAULT_OLDER_THAN = timedelta(hours=1)
# Holds last 7 days at most and Stripe lists 30 days of events: older orders are settled
# business, and re-reading every captured order ever made would not scale.
DEFAULT_WITHIN = timedelta(days=30)
SOURCE = "authorization sweep"
VOID_REASON = CancellationReason.ABANDONED.value  # the hold was not used


class VoidingNotEnabled(Exception):
    """Voiding expired holds was asked for, but the merchant has not enabled it."""


@dataclass(frozen=True)
class Drift:
    """An order whose state or amounts differed from Stripe's, and what the sweep did."""

    order_id: int
    stripe_id: str
    stripe_status: str
    state_before: OrderState
    state_after: OrderState
    differences: tuple[str, ...]
    outcome: str

    @property
    def number(self) -> str:
        return f"#{self.order_id}"


@dataclass(frozen=True)
class Hold:
    order_id: int
    capturable: int
    currency: str
    capture_before: datetime | None

    @property
    def number(self) -> str:
        return f"#{self.order_id}"


@dataclass(frozen=True)
class Skipped:
    order_id: int
    reason: str

    @property
    def number(self) -> str:
        return f"#{self.order_id}"


@dataclass(frozen=True)
class VoidAttempt:
    order_id: int
    ok: bool
    message: str

    @property
    def number(self) -> str:
        return f"#{self.order_id}"


@dataclass
class SweepReport:
    now: datetime
    older_than: timedelta
    voiding: bool
    checked: int = 0
    drift: list[Drift] = field(default_factory=list)
    unreadable: list[Skipped] = field(default_factory=list)
    awaiting: list[Skipped] = field(default_factory=list)
    expiring: list[Hold] = field(default_factory=list)
    past_deadline: list[Hold] = field(default_factory=list)
    voids: list[VoidAttempt] = field(default_factory=list)
    alerted: tuple[int, int] = (0, 0)  # holds alerted as about to run out, and as run out
    released: list[Skipped] = field(default_factory=list)  # old holds a new one replaced

    @property
    def failures(self) -> bool:
        """Orders Stripe could not be asked about, or holds that could not be voided."""
        return bool(self.unreadable) or any(not attempt.ok for attempt in self.voids)


Truth = PaymentIntentSnapshot | CheckoutSessionSnapshot


class AuthorizationSweep:
    def __init__(
        self,
        *,
        older_than: timedelta = DEFAULT_OLDER_THAN,
        within: timedelta = DEFAULT_WITHIN,
        void_expired: bool = False,
        now: datetime | None = None,
    ) -> None:
        if void_expired and not current_app.config.get("SWEEP_VOID_EXPIRED_HOLDS"):
            raise VoidingNotEnabled(
                "Voiding holds past their deadline is off: the merchant turns it on with "
                "SWEEP_VOID_EXPIRED_HOLDS=1."
            )
        self.older_than = older_than
        self.within = within
        self.void_expired = void_expired
        self.now = now or utcnow()

    def run(self) -> SweepReport:
        report = SweepReport(now=self.now, older_than=self.older_than, voiding=self.void_expired)
        for order_id in self.candidates():
            self._check(order_id, report)
        with unit_of_work():
            soon = self.now + orders.EXPIRING_WITHIN
            for queued in orders.capture_queue(now=self.now, until=soon):
                order = queued.order
                hold = Hold(order.id, order.amount_capturable, order.currency, order.capture_before)
                (report.past_deadline if queued.past_deadline else report.expiring).append(hold)
        with unit_of_work():
            report.alerted = alerts.sweep_holds(self.now)
        if self.void_expired:
            # Left alone if Stripe could not be asked about it just now: it may be gone already.
            unread = {skipped.order_id for skipped in report.unreadable}
            for hold in report.past_deadline:
                attempt = self._void(hold) if hold.order_id not in unread else None
                if attempt is not None:
                    report.voids.append(attempt)
        return report

    def candidates(self) -> list[int]:
        """Orders not in a final state, created between `within` and `older_than` ago,
        that have something at Stripe to read."""
        return list(
            db.session.scalars(
                select(Order.id)
                .where(
                    Order.state.not_in([state.value for state in TERMINAL]),
                    Order.created_at <= self.now - self.older_than,
                    Order.created_at >= self.now - self.within,
                    or_(
                        Order.stripe_payment_intent_id.is_not(None),
                        Order.stripe_checkout_session_id.is_not(None),
                    ),
                )
                .order_by(Order.id)
            )
        )

    # -- one order ----------------------------------------------------------------------

    def _check(self, order_id: int, report: SweepReport) -> None:
        try:
            with unit_of_work():
                self._compare(order_id, report)
        except errors.PaymentError as error:
            report.unreadable.append(Skipped(order_id, error.message))

    def _compare(self, order_id: int, report: SweepReport) -> None:
        order = ledger.lock_order(order_id)
        for released in replaced_holds.release_waiting(order):
            report.released.append(Skipped(order.id, released))
            order = ledger.lock_order(order_id)  # the release committed and re-read it
        if order.order_state in TERMINAL:  # moved on since the candidates were read
            return
        request = ledger.in_flight(order)
        if request is not None:
            report.awaiting.append(
                Skipped(
                    order.id,
                    f"a {request.action} sent {request.created_at:%Y-%m-%d %H:%M} UTC awaits "
                    "Stripe's answer: use Check with Stripe on the order page",
                )
            )
            return
        truth = _read(order)
        report.checked += 1
        found = differences(order, truth)
        if found:
            report.drift.append(_correct(order, truth, found))

    def _void(self, hold: Hold) -> VoidAttempt | None:
        try:
            with unit_of_work():
                order = ledger.lock_order(hold.order_id)
                if order.order_state is not OrderState.AUTHORIZED:  # captured or voided meanwhile
                    return None
                deadline = (
                    f"{hold.capture_before:%Y-%m-%d %H:%M} UTC" if hold.capture_before else "-"
                )
                # Made durable with the void's request (saved before Stripe is called), or
                # rolled back with it when the void is refused.
                timeline.append(
                    order,
                    TimelineKind.API_CALL,
                    f"Authorization sweep: the hold's capture deadline ({deadline}) has passed; "
                    "voiding it, as this merchant has chosen (SWEEP_VOID_EXPIRED_HOLDS)",
                    data={"sweep": "authorization", "action": "void", "capture_before": deadline},
                )
                result = staff.void_hold(hold.order_id, VOID_REASON, actor=None)
        except (ActionRefused, errors.PaymentError) as error:
            return VoidAttempt(hold.order_id, False, str(error))
        log.info(
            "authorization sweep: void of an expired hold: %s",
            result.message,
            extra={"order_id": hold.order_id},
        )
        return VoidAttempt(hold.order_id, result.ok, result.message)


# -- comparing with Stripe ------------------------------------------------------------------


def _read(order: Order) -> Truth:
    """The order's PaymentIntent at Stripe, or its Checkout Session until it has one."""
    if order.stripe_payment_intent_id:
        return gateway().retrieve_payment_intent(order.stripe_payment_intent_id)
    session = gateway().retrieve_checkout_session(order.stripe_checkout_session_id or "")
    if session.payment_intent_id:
        return gateway().retrieve_payment_intent(session.payment_intent_id)
    return session


def differences(order: Order, truth: Truth) -> list[str]:
    """How the order differs from what Stripe says, in words; empty when they agree."""
    found = []
    if isinstance(truth, CheckoutSessionSnapshot):
        event = CHECKOUT_SESSION_STATUS.get((truth.status, truth.payment_status))
        state = _state_difference(order.order_state, event, f"checkout session {truth.status}")
        return [state] if state else []
    try:
        event = payment_event(truth)
    except UnmappedStatus as unmapped:
        found.append(str(unmapped))
    else:
        state = _state_difference(order.order_state, event, truth.status)
        if state:
            found.append(state)
    amounts = truth.amounts
    for what, here, there in (
        ("held", order.amount_capturable, amounts.capturable),
        ("captured", order.amount_captured, amounts.captured),
        ("refunded", order.amount_refunded, amounts.refunded),
    ):
        if here != there:
            found.append(f"{what} {order.money(here)} here, {order.money(there)} at Stripe")
    return found


def _state_difference(state: OrderState, event: PaymentEvent | None, says: str) -> str | None:
    """Where Stripe's news would take the order, if elsewhere (as apply_payment_intent goes,
    along the state machine's `path_to`)."""
    if event is None:
        return None
    try:
        after = destination(state, event)
    except IllegalTransition:
        return f"{state.label.lower()} here, {says} at Stripe (cannot follow)"
    if after is state:
        return None
    return f"{state.label.lower()} here, {after.label.lower()} at Stripe ({says})"


def _correct(order: Order, truth: Truth, found: list[str]) -> Drift:
    """Record the drift on the timeline, then apply Stripe's truth forward-only."""
    before = order.order_state
    status = truth.status
    entry = timeline.append(
        order,
        TimelineKind.API_CALL,
        f"Authorization sweep found drift: {'; '.join(found)}",
        data={
            "sweep": "authorization",
            "differences": found,
            "stripe_object_id": truth.id,
            "stripe_status": status,
            "stripe_request_id": truth.request_id,
        },
    )
    try:
        if isinstance(truth, CheckoutSessionSnapshot):
            apply_checkout_session(order, truth, source=SOURCE)
        else:
            apply_payment_intent(order, truth, source=SOURCE)
    except UnmappedStatus as unmapped:
        outcome = f"not applied: {unmapped}"
    else:
        remaining = differences(order, truth)
        after = order.order_state
        if remaining:
            outcome = f"still differs: {'; '.join(remaining)}"
        elif after is not before:
            outcome = f"corrected: {before.label} → {after.label}"
        else:
            outcome = "corrected: amounts updated"
    entry.summary = f"{entry.summary}. {outcome[:1].upper()}{outcome[1:]}."
    db.session.flush()
    log.warning(
        "authorization sweep: drift on order %s: %s",
        order.id,
        "; ".join(found),
        extra={"order_id": order.id, "stripe_object_id": truth.id},
    )
    return Drift(
        order_id=order.id,
        stripe_id=truth.id,
        stripe_status=status,
        state_before=before,
        state_after=order.order_state,
        differences=tuple(found),
        outcome=outcome,
    )
