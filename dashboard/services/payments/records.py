"""What the order page shows of a payment, kept as Stripe reports it: each attempt (card,
checks, Radar, decline), and the ledger of money movements (captures, the released rest of
a hold, voids, refunds) with who asked for each and, once known, its fee and net.

Written wherever Stripe's answers are applied (API answers, webhook payloads, re-reads), so
viewing an order never calls Stripe. Every write is an upsert keyed by Stripe's ids, so a
report that arrives twice, late or out of order changes nothing it should not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from dashboard.domain import overview
from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import AFTER_CAPTURE, StaffAction
from dashboard.domain.stripe_mapping import (
    LAPSED_CANCELLATION_REASONS,
    ChargeStatus,
    RefundStatus,
    refund_counts,
)
from dashboard.extensions import db
from dashboard.models import (
    MoneyMovement,
    MovementKind,
    Order,
    PaymentAttempt,
    RequestStatus,
    StripeRequest,
    utcnow,
)
from dashboard.payments.charges import BalanceFacts, ChargeFacts, RefundDetails
from dashboard.payments.snapshots import PaymentIntentSnapshot

# A refund moves on from pending, and can fail after it succeeded; never back.
_REFUND_RANK: dict[str, int] = {
    RefundStatus.PENDING: 0,
    RefundStatus.REQUIRES_ACTION: 0,
    RefundStatus.SUCCEEDED: 1,
    RefundStatus.FAILED: 2,
    RefundStatus.CANCELED: 2,
}


def note_payment_intent(order: Order, snapshot: PaymentIntentSnapshot) -> None:
    """Keep what a PaymentIntent's reading says: its latest charge, a failed attempt, the
    refunds its charge lists, and the movements the order's amounts now show."""
    for facts in (snapshot.failed_attempt, snapshot.charge):
        if facts is not None:
            keep_attempt(order, facts)
    for refund in snapshot.refunds:
        keep_refund(order, refund)
    note_movements(order, cancellation_reason=snapshot.cancellation_reason)
    if snapshot.charge_balance is not None:
        keep_balance(order, snapshot.charge_balance)


def keep_attempt(order: Order, facts: ChargeFacts) -> PaymentAttempt:
    """Record an attempt, merged over what an earlier reading of it said."""
    attempt = _pending(order.id, facts.id)
    if attempt is None:
        with db.session.no_autoflush:
            attempt = db.session.scalar(
                select(PaymentAttempt).where(PaymentAttempt.attempt_key == facts.id)
            )
    if attempt is None:
        attempt = PaymentAttempt(
            order_id=order.id,
            attempt_key=facts.id,
            payment_intent_id=facts.payment_intent_id,
            status=facts.status or ChargeStatus.PENDING.value,
            details=facts.stored(),
        )
        db.session.add(attempt)
        return _labelled(attempt, order)
    merged = facts.merged_over(ChargeFacts.from_stored(attempt.details))
    attempt.details = merged.stored()
    attempt.status = merged.status or attempt.status
    attempt.payment_intent_id = attempt.payment_intent_id or facts.payment_intent_id
    attempt.updated_at = utcnow()
    return _labelled(attempt, order)


def _labelled(attempt: PaymentAttempt, order: Order) -> PaymentAttempt:
    """The currency and decline reason Home counts the attempt under (overview rollups)."""
    details = attempt.details or {}
    attempt.currency = overview.own_currency(details) or order.currency.upper()
    failed = attempt.status == ChargeStatus.FAILED.value
    attempt.decline_reason = overview.decline_reason(details)[:64] if failed else None
    return attempt


def note_movements(order: Order, *, cancellation_reason: str | None = None) -> None:
    """The captures, releases and voids the order's amounts and state now show."""
    state = order.order_state
    charge, intent = order.stripe_charge_id, order.stripe_payment_intent_id
    if charge and order.amount_captured > 0:
        row = _note_captures(order, charge)
        capture = row.request
        if state in AFTER_CAPTURE and order.amount_authorized > order.amount_captured:
            released = order.amount_authorized - order.amount_captured
            release = _upsert(order, MovementKind.RELEASE, f"release:{charge}", charge, released)
            _attribute(release, capture)
    if intent and order.amount_authorized > 0 and state in (OrderState.VOIDED, OrderState.EXPIRED):
        void = _upsert(order, MovementKind.VOID, f"void:{intent}", intent, order.amount_authorized)
        lapsed = state is OrderState.EXPIRED or cancellation_reason in LAPSED_CANCELLATION_REASONS
        if lapsed:
            void.reason = void.reason or "lapsed"
        elif _unattributed(void):
            request = _request(order, StaffAction.VOID)
            _attribute(void, request)
            void.reason = void.reason or (request.reason if request else cancellation_reason)


def keep_refund(
    order: Order, refund: RefundDetails, request: StripeRequest | None = None
) -> MoneyMovement:
    """Record a refund Stripe created, its status moving forward only."""
    if request is None and refund.idempotency_key:
        request = _request_by_key(order, refund.idempotency_key)
    row = _upsert(order, MovementKind.REFUND, f"refund:{refund.id}", refund.id, refund.amount)
    if _REFUND_RANK.get(refund.status, 0) >= _REFUND_RANK.get(row.status, 0):
        row.status = refund.status
    row.failure_reason = refund.failure_reason or row.failure_reason
    row.reason = row.reason or refund.reason or (request.reason if request else None)
    _attribute(row, request)
    if refund.balance is not None:
        row.balance_transaction_id = refund.balance.id
        row.balance = refund.balance.stored()
    elif refund.balance_transaction_id:
        row.balance_transaction_id = row.balance_transaction_id or refund.balance_transaction_id
    return row


def keep_balance(order: Order, balance: BalanceFacts) -> None:
    """Attach a balance transaction to the capture (or refund) it belongs to."""
    for row in movements(order):
        if row.balance_transaction_id == balance.id or (
            row.kind == MovementKind.CAPTURE and row.balance_transaction_id is None
        ):
            row.balance_transaction_id = balance.id
            row.balance = balance.stored()
            return


def note_capture_balance_id(order: Order, balance_transaction_id: str | None) -> None:
    """Remember which balance transaction a capture has, to fetch it when Stripe has it."""
    if not balance_transaction_id:
        return
    for row in movements(order):
        if row.kind == MovementKind.CAPTURE and row.balance_transaction_id is None:
            row.balance_transaction_id = balance_transaction_id


def movements(order: Order) -> list[MoneyMovement]:
    """The order's ledger in the order it happened, including rows not yet flushed."""
    with db.session.no_autoflush:
        stored = list(
            db.session.scalars(
                select(MoneyMovement)
                .where(MoneyMovement.order_id == order.id)
                .order_by(MoneyMovement.id)
            )
        )
    new = [
        row
        for row in db.session.new
        if isinstance(row, MoneyMovement) and row.order_id == order.id and row not in stored
    ]
    return stored + new


def attempts(order: Order) -> list[PaymentAttempt]:
    """The order's attempts, oldest first."""
    return list(
        db.session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.order_id == order.id)
            .order_by(PaymentAttempt.id)
        )
    )


def missing_balances(order: Order) -> list[str]:
    """Balance transactions Stripe named for this order's movements but has not described."""
    return [
        row.balance_transaction_id
        for row in movements(order)
        if row.balance_transaction_id and row.balance is None
    ]


@dataclass(frozen=True)
class LedgerTotals:
    captured: int
    refunded: int
    # What the order's totals count that no recorded movement explains yet (a refund made
    # in Stripe's Dashboard whose own event has not arrived): shown as its own line.
    captured_unexplained: int
    refunded_unexplained: int


def totals(order: Order, rows: Iterable[MoneyMovement]) -> LedgerTotals:
    """What the ledger adds up to, beside the order's own totals."""
    rows = list(rows)
    captured = sum(r.amount for r in rows if r.kind == MovementKind.CAPTURE)
    refunded = sum(
        r.amount for r in rows if r.kind == MovementKind.REFUND and refund_counts(r.status)
    )
    return LedgerTotals(
        captured=captured,
        refunded=refunded,
        captured_unexplained=max(order.amount_captured - captured, 0),
        refunded_unexplained=max(order.amount_refunded - refunded, 0),
    )


# -- internals ----------------------------------------------------------------------------

_CAPTURES = (StaffAction.CAPTURE.value, StaffAction.PARTIAL_CAPTURE.value)


def _note_captures(order: Order, charge: str) -> MoneyMovement:
    """One ledger row per capture: with multicapture the charge's captured total grows, and
    each growth is its own row (its amount the difference), keyed by the total it reached,
    so a report seen twice adds nothing. Returns the latest capture's row."""
    rows = [row for row in movements(order) if row.kind == MovementKind.CAPTURE]
    noted = sum(row.amount for row in rows)
    if rows and order.amount_captured <= noted:
        row = rows[-1]
    else:
        key = f"capture:{charge}" if not rows else f"capture:{charge}:{order.amount_captured}"
        row = _upsert(order, MovementKind.CAPTURE, key, charge, order.amount_captured - noted)
    if _unattributed(row):
        taken = {r.request_id for r in rows if r.request_id is not None}
        taken |= {r.request.id for r in rows if r.request is not None and r is not row}
        _attribute(row, _capture_request(order, taken))
    return row


def _capture_request(order: Order, taken: set[int]) -> StripeRequest | None:
    """Our latest capture (final or partial) not refused and not yet named on a row."""
    with db.session.no_autoflush:
        found = db.session.scalars(
            select(StripeRequest)
            .where(
                StripeRequest.order_id == order.id,
                StripeRequest.action.in_(_CAPTURES),
                StripeRequest.status != RequestStatus.FAILED.value,
            )
            .order_by(StripeRequest.id.desc())
        )
        return next((request for request in found if request.id not in taken), None)


def _upsert(
    order: Order, kind: MovementKind, key: str, object_id: str, amount: int
) -> MoneyMovement:
    for row in movements(order):
        if row.movement_key == key:
            row.amount = max(row.amount, amount)
            return row
    row = MoneyMovement(
        order_id=order.id,
        kind=kind.value,
        movement_key=key,
        stripe_object_id=object_id,
        amount=amount,
        currency=order.currency,
        status=RefundStatus.PENDING.value
        if kind is MovementKind.REFUND
        else RefundStatus.SUCCEEDED.value,
        occurred_at=utcnow(),
    )
    db.session.add(row)
    return row


def _unattributed(row: MoneyMovement) -> bool:
    """No request of ours is named yet: worth looking for (once named, never again)."""
    return row.request_id is None and row.request is None


def _attribute(row: MoneyMovement, request: StripeRequest | None) -> None:
    """Say who asked for a movement: our request's author (None: the system, or Stripe's
    Dashboard when no request of ours asked for it)."""
    if request is not None and _unattributed(row):
        row.request = request
        row.actor_id = request.actor_id


def _request(order: Order, action: StaffAction) -> StripeRequest | None:
    """Our latest request for this action on the order that Stripe did not refuse."""
    with db.session.no_autoflush:
        return db.session.scalar(
            select(StripeRequest)
            .where(
                StripeRequest.order_id == order.id,
                StripeRequest.action == action.value,
                StripeRequest.status != RequestStatus.FAILED.value,
            )
            .order_by(StripeRequest.id.desc())
            .limit(1)
        )


def _request_by_key(order: Order, key: str) -> StripeRequest | None:
    with db.session.no_autoflush:
        return db.session.scalar(
            select(StripeRequest).where(
                StripeRequest.order_id == order.id, StripeRequest.idempotency_key == key
            )
        )


def _pending(order_id: int, key: str) -> PaymentAttempt | None:
    """An attempt added in this session and not yet flushed (handlers run without
    autoflush, so a query would not find it)."""
    for row in db.session.new:
        if isinstance(row, PaymentAttempt) and row.order_id == order_id and row.attempt_key == key:
            return row
    return None
