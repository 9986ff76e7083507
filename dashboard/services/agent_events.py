"""Order events back to the agent that placed the order (ACP `order_create` and
`order_update`, docs/agents.md "Order events to the agent").

One place decides them, whatever changed the order (a staff action, a Stripe webhook, a
sweep, the agent API): the commit. While a transaction flushes, `_note_changes` notes each
agent order whose state, amounts, refunds or disputes changed; just before it commits,
`_write_events` builds each noted order's full Order object, and when it differs from what
the agent last heard (a fingerprint), writes one event in that same transaction. The relay
(services/relay/agent_webhooks.py) signs and sends it. An order is the agent's once it has
a hold: before that nothing is sent, unless the agent API calls `order_created` itself.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, SessionTransaction

from dashboard.domain import agent_events as acp
from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import (
    AgentCheckoutSession,
    AgentWebhook,
    Dispute,
    MoneyMovement,
    MovementKind,
    Order,
    TimelineKind,
)
from dashboard.models.agents import Agent
from dashboard.services import timeline

# What of an order the agent hears about: a change to any of these writes an event.
WATCHED = ("state", "amount_captured", "amount_refunded", "total_amount", "agent_id")
NOTED = "agent_events.noted_orders"


def order_created(order: Order, *, checkout_session_id: str | None = None) -> AgentWebhook | None:
    """Write the order's `order_create` now (the agent API's complete step calls this with
    its checkout session id); nothing when the order has no agent, its agent is revoked,
    or the event was written already. Later changes become `order_update`s by themselves."""
    return _write_for(order, checkout_session_id=checkout_session_id, force=True)


def order_changed(order: Order) -> AgentWebhook | None:
    """Write an `order_update` (or the first `order_create`) if the agent's view of the
    order changed. The commit hook calls this; so may anything that wants it sooner."""
    return _write_for(order, checkout_session_id=None, force=False)


def _write_for(
    order: Order, *, checkout_session_id: str | None, force: bool
) -> AgentWebhook | None:
    agent_id = getattr(order, "agent_id", None)
    if agent_id is None:
        return None
    agent = db.session.get(Agent, agent_id)
    if agent is None or agent.is_revoked:
        return None
    last = db.session.scalar(
        select(AgentWebhook)
        .where(AgentWebhook.order_id == order.id)
        .order_by(AgentWebhook.id.desc())
        .limit(1)
    )
    if last is None and not force and order.order_state in acp.BEFORE_A_HOLD:
        return None
    session_id = _checkout_session_id(order, checkout_session_id, last)
    data = acp.order_object(_facts(order, session_id))
    fingerprint = acp.fingerprint(data)
    if last is not None and (force or last.fingerprint == fingerprint):
        return None
    kind = acp.ORDER_CREATE if last is None else acp.ORDER_UPDATE
    webhook = AgentWebhook(
        agent_id=agent.id,
        order_id=order.id,
        event_type=kind,
        checkout_session_id=session_id,
        body=acp.event_body(kind, data),
        fingerprint=fingerprint,
    )
    db.session.add(webhook)
    db.session.flush()
    timeline.append(
        order,
        TimelineKind.OUTBOX,
        f"Agent event {kind} #{webhook.id} queued for {agent.name} (status {data['status']})",
        data={"agent_webhook_id": webhook.id, "type": kind, "status": data["status"]},
    )
    return webhook


def _checkout_session_id(order: Order, given: str | None, last: AgentWebhook | None) -> str:
    """The agent's checkout session: as the agent API gave it, as the order's first event
    said, the checkout session the order was completed from (whichever of the API and the
    commit hook writes the first event), or, for an order that came another way, the
    order's own Stripe payment."""
    if given:
        return given
    if last is not None:
        return last.checkout_session_id
    completed_from = db.session.scalar(
        select(AgentCheckoutSession.id).where(AgentCheckoutSession.order_id == order.id)
    )
    return (
        completed_from
        or order.stripe_checkout_session_id
        or order.stripe_payment_intent_id
        or f"ord_{order.id}"
    )


def permalink_url(order_id: int) -> str:
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return f"{base}/orders/{order_id}"


def _facts(order: Order, checkout_session_id: str) -> acp.OrderFacts:
    refunds = db.session.scalars(
        select(MoneyMovement)
        .where(MoneyMovement.order_id == order.id, MoneyMovement.kind == MovementKind.REFUND.value)
        .order_by(MoneyMovement.id)
    )
    disputes = db.session.scalars(
        select(Dispute).where(Dispute.order_id == order.id).order_by(Dispute.id)
    )
    adjustments = [
        acp.AdjustmentFacts(
            id=refund.stripe_object_id or f"refund_{refund.id}",
            kind="refund",
            occurred_at=refund.occurred_at,
            status=acp.refund_status(refund.status),
            amount=refund.amount,
            currency=refund.currency,
        )
        for refund in refunds
    ] + [
        acp.AdjustmentFacts(
            id=dispute.stripe_dispute_id,
            kind="dispute",
            occurred_at=dispute.created_at,
            status=acp.dispute_status(dispute.status),
            amount=dispute.amount,
            currency=dispute.currency,
            description=f"Disputed by the buyer's bank ({dispute.reason.replace('_', ' ')})",
        )
        for dispute in disputes
    ]
    return acp.OrderFacts(
        id=order.id,
        checkout_session_id=checkout_session_id,
        permalink_url=permalink_url(order.id),
        state=OrderState(order.state),
        currency=order.currency,
        total_amount=order.total_amount,
        amount_refunded=order.amount_refunded,
        lines=tuple(
            acp.LineFacts(line.id, line.description, line.quantity, line.unit_amount, line.amount)
            for line in order.lines
        ),
        adjustments=tuple(adjustments),
    )


def _order_id_changed(obj: Any, is_new: bool) -> int | None:
    """The order whose agent may hear of this object's change, if it is one we watch."""
    if isinstance(obj, Order):
        if obj.agent_id is None:  # only an agent's orders are announced (set when made)
            return None
        state = inspect(obj)
        if is_new or any(state.attrs[name].history.has_changes() for name in WATCHED):
            return obj.id
        return None
    if isinstance(obj, Dispute):
        return obj.order_id
    if isinstance(obj, MoneyMovement) and obj.kind == MovementKind.REFUND.value:
        return obj.order_id
    return None


def _note_changes(session: Session, _context: Any) -> None:
    noted: set[int] = session.info.setdefault(NOTED, set())
    for is_new, objects in ((True, session.new), (False, session.dirty)):
        for obj in objects:
            order_id = _order_id_changed(obj, is_new)
            if order_id is not None:
                noted.add(order_id)


def _write_events(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # what is still pending is noted too (the commit flushes after this)
    noted: set[int] = session.info.pop(NOTED, set())
    if not noted or not has_app_context():
        return
    for order_id in sorted(noted):
        order = session.get(Order, order_id)
        if order is not None and getattr(order, "agent_id", None) is not None:
            order_changed(order)
    session.info.pop(NOTED, None)  # our own writes are not changes to report


def _forget(session: Session, transaction: SessionTransaction) -> None:
    """A transaction ended without our commit hook taking its notes: rolled back. Only the
    outermost one: a savepoint rolled back (a group commit's failed event) keeps the notes
    of what the transaction changed before it, and the hook reads the orders as they are."""
    if transaction.parent is None:
        session.info.pop(NOTED, None)


def init_app() -> None:
    """Listen to every session's flushes and commits (once per process)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_flush", _note_changes):
        event.listen(session_class, "after_flush", _note_changes)
        event.listen(session_class, "before_commit", _write_events)
        event.listen(session_class, "after_transaction_end", _forget)
