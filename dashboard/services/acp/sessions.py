"""An agent's checkout sessions: create, update, read and cancel, each answering the
session's whole authoritative state; and the log of every request about a session, on
the order's timeline once there is an order."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dashboard.domain import acp
from dashboard.extensions import db
from dashboard.models import (
    Agent,
    AgentCheckoutRequest,
    AgentCheckoutSession,
    Order,
    TimelineKind,
    utcnow,
)
from dashboard.services import timeline
from dashboard.services.acp import carts
from dashboard.services.acp.answers import AcpRefusal, Answer
from dashboard.services.acp.gate import AcpCall
from dashboard.services.acp.render import message, session_json

S = acp.SessionStatus
OPERATION_WORDS = {
    "create": "created the checkout session",
    "update": "updated the checkout session",
    "get": "read the checkout session",
    "complete": "asked to complete the checkout session",
    "cancel": "asked to cancel the checkout session",
}


def not_found(session_id: str | None) -> AcpRefusal:
    return AcpRefusal(
        404, "not_found", f"No checkout session {str(session_id)[:64]!r} for this agent."
    )


def locked(agent: Agent, session_id: str | None) -> AgentCheckoutSession:
    """The agent's session, locked until the request's commit; another agent's is unknown."""
    found = db.session.scalar(
        select(AgentCheckoutSession)
        .where(
            AgentCheckoutSession.id == (session_id or ""),
            AgentCheckoutSession.agent_id == agent.id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise not_found(session_id)
    return found


def order_of(session: AgentCheckoutSession) -> Order | None:
    return db.session.get(Order, session.order_id) if session.order_id else None


def readiness(session: AgentCheckoutSession) -> None:
    """Ready for payment once a buyer's email is known; until then, say what is missing."""
    if session.status not in (S.NOT_READY, S.READY):
        return
    email = (session.buyer or {}).get("email") or (session.fulfillment_details or {}).get("email")
    others = [m for m in session.messages or [] if m.get("code") != "missing"]
    if email:
        session.status = S.READY.value
        session.messages = others
    else:
        session.status = S.NOT_READY.value
        session.messages = [
            *others,
            message("missing", "The buyer's email address is needed.", "$.buyer.email"),
        ]


def create(agent: Agent, body: dict[str, Any]) -> Answer:
    currency = carts.currency_of(body)
    lines = carts.priced_lines(body.get("line_items"), currency)
    carts.no_fulfillment_choice(body.get("selected_fulfillment_options"))
    now = utcnow()
    session = AgentCheckoutSession(
        id=f"cs_{secrets.token_urlsafe(18)}",
        agent_id=agent.id,
        status=S.NOT_READY.value,
        currency=currency,
        lines=lines,
        buyer=carts.buyer_of(body.get("buyer")),
        fulfillment_details=carts.fulfillment_of(body.get("fulfillment_details")),
        messages=[],
        created_at=now,
        updated_at=now,
    )
    readiness(session)
    db.session.add(session)
    db.session.flush()
    return Answer(201, session_json(session))


def update(agent: Agent, session_id: str | None, body: dict[str, Any]) -> Answer:
    session = locked(agent, session_id)
    if session.status not in acp.OPEN_STATUSES:
        raise AcpRefusal(
            400,
            f"checkout_session_{session.status}",
            f"The checkout session is {session.status.replace('_', ' ')}; it can no longer change.",
        )
    if "line_items" in body:
        session.lines = carts.priced_lines(body["line_items"], session.currency)
        if session.order_id is not None:
            # A declined (or unauthenticated) attempt's order was for the old cart: the
            # next attempt makes a new one; the old one stays, failed, in the panel.
            session.order_id = None
            session.status = S.READY.value
    if "buyer" in body:
        session.buyer = carts.buyer_of(body["buyer"])
    if "fulfillment_details" in body:
        session.fulfillment_details = carts.fulfillment_of(body["fulfillment_details"])
    carts.no_fulfillment_choice(body.get("selected_fulfillment_options"))
    session.updated_at = utcnow()
    readiness(session)
    return Answer(200, session_json(session))


def read(agent: Agent, session_id: str | None) -> Answer:
    session = locked(agent, session_id)
    return Answer(200, session_json(session))


def cancel(agent: Agent, session_id: str | None) -> Answer:
    session = locked(agent, session_id)
    if session.status in acp.FINAL_STATUSES or session.status == S.COMPLETE_IN_PROGRESS:
        raise AcpRefusal(
            405,
            "not_cancelable",
            f"The checkout session is {session.status.replace('_', ' ')} and cannot be canceled.",
        )
    session.status = S.CANCELED.value
    session.messages = [
        {"type": "info", "content_type": "plain", "content": "Checkout session canceled."}
    ]
    session.updated_at = utcnow()
    return Answer(200, session_json(session))


def log_request(
    agent: Agent, call: AcpCall, session_id: str | None, answer: Answer, replayed: bool
) -> None:
    """Note the request on its session (and on the order's timeline, once there is one)."""
    if session_id is None:
        return
    session = db.session.get(AgentCheckoutSession, session_id)
    if session is None or session.agent_id != agent.id:
        return
    outcome = answer.body.get("status") or answer.body.get("code") or ""
    if replayed:
        outcome = f"{outcome} (replayed)"
    entry = AgentCheckoutRequest(
        session_id=session.id,
        operation=call.operation,
        request_id=(call.request_id or "")[:255] or None,
        idempotency_key=call.idempotency_key,
        http_status=answer.status,
        outcome=str(outcome)[:300],
        created_at=utcnow(),
    )
    db.session.add(entry)
    order = order_of(session)
    if order is not None:
        on_timeline(order, agent, entry)


def on_timeline(order: Order, agent: Agent, entry: AgentCheckoutRequest) -> None:
    words = OPERATION_WORDS.get(entry.operation, entry.operation)
    timeline.append(
        order,
        TimelineKind.API_CALL,
        f"Agent {agent.name} {words}: {entry.http_status} {entry.outcome}; "
        f"request id {entry.request_id or 'none'}, "
        f"idempotency key {entry.idempotency_key or 'none'}",
        data={
            "agent_request": {
                "agent": agent.name,
                "operation": entry.operation,
                "request_id": entry.request_id,
                "idempotency_key": entry.idempotency_key,
                "http_status": entry.http_status,
                "outcome": entry.outcome,
                "at": _stamp(entry.created_at),
            }
        },
    )


def copy_log_to_timeline(order: Order, agent: Agent, session: AgentCheckoutSession) -> None:
    """The session's requests so far, on the order's timeline it has just become."""
    for entry in db.session.scalars(
        select(AgentCheckoutRequest)
        .where(AgentCheckoutRequest.session_id == session.id)
        .order_by(AgentCheckoutRequest.id)
    ):
        on_timeline(order, agent, entry)


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
