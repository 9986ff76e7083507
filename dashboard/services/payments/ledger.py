"""The request ledger: every call that asks Stripe to do something is saved with an
idempotency key derived from the action, made durable, sent through `send`, and its answer
recorded on it (and on the order's timeline).

The saved row doubles as the lock: a partial unique index allows one money action in flight
per order, so a second click, in any worker, finds it and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dashboard.extensions import db
from dashboard.models import (
    IN_FLIGHT,
    MONEY_ACTIONS,
    Order,
    RequestStatus,
    StripeRequest,
    TimelineKind,
    User,
    utcnow,
)
from dashboard.payments import errors
from dashboard.services import timeline
from dashboard.services.payments.results import ActionInProgress, OrderNotFound
from dashboard.transactions import commit_before_stripe


def lock_order(order_id: int) -> Order:
    """The order row, locked until commit (PostgreSQL); SQLite serialises writers anyway.

    Re-read once locked (populate_existing): an Order already in the session, loaded before
    the lock, would otherwise keep the state another worker has since changed.
    """
    order = db.session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound(order_id)
    return order


def in_flight(order: Order) -> StripeRequest | None:
    """The order's staff money request still waiting for Stripe's answer, if there is one."""
    return db.session.scalar(
        select(StripeRequest).where(
            StripeRequest.order_id == order.id,
            StripeRequest.status.in_(IN_FLIGHT),
            StripeRequest.action.in_(MONEY_ACTIONS),
        )
    )


def begin(
    order: Order,
    action: str,
    amount: int | None,
    actor: User | None,
    reason: str | None = None,
    *,
    idempotency_key: str | None = None,
) -> StripeRequest:
    """Save the request and its idempotency key, derived from the action (or given: an
    agent's payment derives it from the agent's own key), before calling."""
    same = [StripeRequest.order_id == order.id, StripeRequest.action == action]
    if amount is not None:
        same.append(StripeRequest.amount == amount)
    count: int = db.session.scalar(select(func.count(StripeRequest.id)).where(*same)) or 0
    attempt = 1 + count
    request = StripeRequest(
        order_id=order.id,
        action=action,
        amount=amount,
        reason=reason,
        idempotency_key=idempotency_key or f"order-{order.id}-{action}-{amount or 0}-{attempt}",
        status=RequestStatus.PENDING.value,
        actor=actor,
    )
    try:
        with db.session.begin_nested():
            db.session.add(request)
            db.session.flush()
    except IntegrityError as error:
        raise ActionInProgress(
            "Another action on this order is still waiting for Stripe. Nothing new was sent."
        ) from error
    return request


_OUTCOMES = {
    RequestStatus.SUCCEEDED: "succeeded",
    RequestStatus.UNKNOWN: "no answer; awaiting confirmation",
    RequestStatus.PENDING: "sent",
}


def finish(
    order: Order,
    request: StripeRequest,
    status: RequestStatus,
    *,
    what: str,
    object_id: str | None = None,
    request_id: str | None = None,
    error: errors.PaymentError | None = None,
) -> None:
    """Record how a request ended (or that it is awaiting confirmation), on the timeline too."""
    request.status = status.value
    request.stripe_object_id = object_id or request.stripe_object_id
    request.stripe_request_id = request_id or (error.request_id if error else None)
    if error is not None:
        request.error_code = (error.code or type(error).__name__)[:64]
        request.error_message = error.message[:500]
    if status is not RequestStatus.UNKNOWN:
        request.completed_at = utcnow()
    outcome = (
        f"failed: {error.message if error else ''}"
        if status is RequestStatus.FAILED
        else _OUTCOMES[status]
    )
    timeline.append(
        order,
        TimelineKind.API_CALL,
        f"Stripe {what}: {outcome}",
        actor=request.actor,
        data={
            "action": request.action,
            "amount": request.amount,
            "idempotency_key": request.idempotency_key,
            "stripe_request_id": request.stripe_request_id,
            "stripe_object_id": request.stripe_object_id,
            "status": request.status,
            "error_code": request.error_code,
        },
    )
    db.session.flush()


class _StripeAnswer(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def request_id(self) -> str | None: ...


Answer = TypeVar("Answer", bound=_StripeAnswer)


def send(
    order: Order,
    request: StripeRequest,
    what: str,
    call: Callable[[], Answer],
) -> Answer | errors.PaymentError:
    """The one way a saved request reaches Stripe: commit it (`commit_before_stripe`), make
    the call, and record how it ended.

    The order is locked again (and re-read) once Stripe has answered: a webhook about this
    very call may have been applied by another worker in the meantime.
    """
    commit_before_stripe()
    try:
        result = call()
    except errors.PaymentError as error:
        db.session.refresh(order, with_for_update=True)
        status = RequestStatus.UNKNOWN if error.outcome_unknown else RequestStatus.FAILED
        finish(order, request, status, what=what, error=error)
        return error
    db.session.refresh(order, with_for_update=True)
    finish(
        order,
        request,
        RequestStatus.SUCCEEDED,
        what=what,
        object_id=result.id,
        request_id=result.request_id,
    )
    return result
