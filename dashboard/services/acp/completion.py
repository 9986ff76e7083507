"""Completing an agent's checkout session: the session becomes an ordinary order (placed
"via agent <name>"), paid with the agent's Stripe shared payment token through the request
ledger (its Stripe idempotency key derived from the agent's Idempotency-Key, made durable
before Stripe is called), and the protocol's answer for each outcome: completed with the
order, declined, or waiting for the buyer's 3-D Secure."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from sqlalchemy import select

from dashboard.domain import acp
from dashboard.domain.orders import LineDraft
from dashboard.domain.state_machine import PaymentEvent
from dashboard.domain.stripe_mapping import PaymentIntentStatus
from dashboard.extensions import db
from dashboard.models import (
    IN_FLIGHT,
    Agent,
    AgentCheckoutSession,
    Order,
    StripeRequest,
    utcnow,
)
from dashboard.payments import errors
from dashboard.payments.gateway import gateway, is_sandbox
from dashboard.payments.shared_tokens import is_shared_token
from dashboard.payments.snapshots import PaymentIntentSnapshot
from dashboard.services import agent_events, orders, outbox
from dashboard.services.acp import authentication, carts, sessions
from dashboard.services.acp.answers import (
    SERVICE_UNAVAILABLE,
    AcpRefusal,
    Answer,
    bad,
    error_body,
)
from dashboard.services.acp.render import HANDLER_ID, message, session_json
from dashboard.services.outbox import OutboxType
from dashboard.services.payments import ledger, records
from dashboard.services.payments.apply import apply_payment_intent, attempt_failed, move

S = acp.SessionStatus
PI = PaymentIntentStatus
ACTION = "create_payment_intent"
CONFIRM = "confirm_payment_intent"
SOURCE = "agent checkout"
TOKEN_PARAM = "$.payment_data.instrument.credential.token"  # noqa: S105 (a JSONPath)
HELD = frozenset({PI.REQUIRES_CAPTURE, PI.SUCCEEDED, PI.PROCESSING})


def stripe_key(agent: Agent, endpoint: str, key: str) -> str:
    """Stripe's idempotency key for the agent's: the same Idempotency-Key on the same
    session always asks Stripe for the same payment."""
    digest = hashlib.sha256(f"{agent.id}\n{endpoint}\n{key}".encode()).hexdigest()
    return f"acp-{agent.id}-{digest[:48]}"


def token_of(body: dict[str, Any]) -> str:
    """The shared payment token in `payment_data`; a refusal when it is not one."""
    data = body.get("payment_data")
    if not isinstance(data, dict):
        raise bad("missing", "payment_data is required.", "$.payment_data")
    if data.get("handler_id") != HANDLER_ID:
        raise bad(
            "invalid",
            f"This shop takes payment_data with handler_id {HANDLER_ID!r} only.",
            "$.payment_data.handler_id",
        )
    instrument = data.get("instrument")
    credential = instrument.get("credential") if isinstance(instrument, dict) else None
    if not isinstance(credential, dict) or credential.get("type") != "spt":
        raise bad(
            "invalid",
            "The credential must be a Stripe shared payment token (type spt).",
            "$.payment_data.instrument.credential.type",
        )
    token = credential.get("token")
    if not is_shared_token(token):
        raise bad("invalid_payment_token", "The token is not a shared payment token.", TOKEN_PARAM)
    return str(token)


def _buyer(session: AgentCheckoutSession, body: dict[str, Any]) -> tuple[str, str]:
    if "buyer" in body:
        session.buyer = carts.buyer_of(body["buyer"])
    buyer = session.buyer or {}
    details = session.fulfillment_details or {}
    email = buyer.get("email") or details.get("email")
    if not email:
        raise bad("missing", "The buyer's email address is needed.", "$.buyer.email")
    name = (
        buyer.get("full_name")
        or " ".join(part for part in (buyer.get("first_name"), buyer.get("last_name")) if part)
        or details.get("name")
        or email
    )
    return name[:200], email


def _order_for(agent: Agent, session: AgentCheckoutSession, name: str, email: str) -> Order:
    """The order the session pays for: made now, or the one a declined attempt left."""
    if session.order_id is not None:
        order = ledger.lock_order(session.order_id)
        order.buyer_name, order.buyer_email = name, email
        return order
    order = orders.create_order(
        actor=None,
        buyer_name=name,
        buyer_email=email,
        currency=session.currency,
        lines=[
            LineDraft(line["title"], int(line["quantity"]), int(line["unit_amount"]))
            for line in session.lines
        ],
    )
    order.agent_id = agent.id
    session.order_id = order.id
    sessions.copy_log_to_timeline(order, agent, session)
    return order


def complete(
    agent: Agent, session_id: str | None, body: dict[str, Any], endpoint: str, key: str
) -> Answer:
    session = sessions.locked(agent, session_id)
    wanted = stripe_key(agent, endpoint, key)
    if session.status == S.COMPLETE_IN_PROGRESS:
        return _resume(agent, session, wanted, body)
    if session.status in acp.FINAL_STATUSES:
        raise bad(
            f"checkout_session_{session.status}",
            f"The checkout session is already {session.status}; it cannot be completed.",
        )
    token = token_of(body)
    name, email = _buyer(session, body)
    if session.status == S.AUTHENTICATION_REQUIRED:
        return _after_authentication(agent, session, body, wanted)
    order = _order_for(agent, session, name, email)
    session.status = S.COMPLETE_IN_PROGRESS.value
    session.updated_at = utcnow()
    request = ledger.begin(order, ACTION, order.total_amount, None, idempotency_key=wanted)
    return _pay(agent, session, order, request, token)


def _pay(
    agent: Agent,
    session: AgentCheckoutSession,
    order: Order,
    request: StripeRequest,
    token: str,
) -> Answer:
    capture_method = current_app.config["ACP_CAPTURE_METHOD"]
    result = ledger.send(
        order,
        request,
        "payment with the agent's shared payment token",
        lambda: gateway().pay_with_shared_token(
            token=token,
            amount=order.total_amount,
            currency=order.currency,
            capture_method=capture_method,
            order_id=order.id,
            idempotency_key=request.idempotency_key,
            metadata={"checkout_session": session.id, "agent": str(agent.id)},
        ),
    )
    session = sessions.locked(agent, session.id)
    if isinstance(result, errors.PaymentError):
        return _refused(session, order, request, result)
    order.stripe_payment_intent_id = result.id
    move(order, PaymentEvent.STARTED, source=SOURCE, detail=f"paid via agent {agent.name}")
    outbox.emit(order, OutboxType.ORDER_CREATED, str(order.id), payment_object=result.id)
    return _settled(session, order, result)


def _resume(
    agent: Agent, session: AgentCheckoutSession, wanted: str, body: dict[str, Any]
) -> Answer:
    """A payment whose answer never came, sent again with its first key (the agent sent
    its Idempotency-Key again): Stripe answers a key it has seen with its first answer, so
    this cannot pay twice. Another key finds the session busy."""
    request = db.session.scalar(
        select(StripeRequest).where(StripeRequest.idempotency_key == wanted)
    )
    if request is None or session.order_id is None or request.status not in IN_FLIGHT:
        raise AcpRefusal(
            409,
            "checkout_session_in_progress",
            "The checkout session is being completed by another request.",
            headers={"Retry-After": "2"},
        )
    order = ledger.lock_order(session.order_id)
    return _pay(agent, session, order, request, token_of(body))


def _refused(
    session: AgentCheckoutSession,
    order: Order,
    request: StripeRequest,
    error: errors.PaymentError,
) -> Answer:
    if error.outcome_unknown:
        # Stripe may have taken it: the session stays in progress; the same key resumes.
        return Answer(
            503,
            error_body("payment_outcome_unknown", error.message, kind=SERVICE_UNAVAILABLE),
            {"Retry-After": "5"},
        )
    session.status = S.READY.value
    if isinstance(error, errors.CardDeclined):
        order.last_payment_error = error.message
        if error.attempt is not None:
            records.keep_attempt(order, error.attempt)
        move(order, PaymentEvent.FAILED, source=SOURCE, detail=error.message)
        attempt_failed(
            order,
            error.charge_id or request.idempotency_key,
            payment_intent=None,
            reason=error.message,
        )
        session.messages = [message("payment_declined", error.message)]
        return Answer(402, error_body("payment_declined", error.message, param=TOKEN_PARAM))
    session.messages = [message("invalid", error.message, TOKEN_PARAM)]
    return Answer(400, error_body("payment_refused", error.message, param=TOKEN_PARAM))


def _settled(
    session: AgentCheckoutSession, order: Order, snapshot: PaymentIntentSnapshot
) -> Answer:
    """What the PaymentIntent says, applied to the order, and the agent's answer."""
    apply_payment_intent(order, snapshot, source=SOURCE)
    if snapshot.status in HELD:
        session.status = S.COMPLETED.value
        session.messages = []
        agent_events.order_created(order, checkout_session_id=session.id)
        return Answer(200, session_json(session, order))
    if snapshot.status == PI.REQUIRES_ACTION:
        session.status = S.AUTHENTICATION_REQUIRED.value
        session.messages = [
            message(
                "requires_3ds",
                "The card's bank asks the buyer to authenticate (3-D Secure).",
                "$.authentication_result",
            )
        ]
        return Answer(
            402,
            error_body(
                "authentication_required",
                "The card's bank asks the buyer to authenticate (3-D Secure). Authenticate "
                "and complete again with authentication_result.",
                param="$.authentication_result",
            ),
        )
    session.status = S.READY.value
    words = "The card was declined. Ask the buyer for another payment method."
    session.messages = [message("payment_declined", words)]
    return Answer(402, error_body("payment_declined", words, param=TOKEN_PARAM))


def _after_authentication(
    agent: Agent, session: AgentCheckoutSession, body: dict[str, Any], wanted: str
) -> Answer:
    """The agent's second complete after 3-D Secure. The payment is read again; if it still
    waits for the buyer's bank, an authenticated result confirms it with the agent's 3-D
    Secure values, and any other outcome declines it (in the sandbox, localstripe's
    stand-in for the bank's page is answered instead)."""
    outcome, three_d_secure = authentication.result_of(body)
    order = ledger.lock_order(session.order_id or 0)
    try:
        current = gateway().retrieve_payment_intent(order.stripe_payment_intent_id or "")
        if is_sandbox(current_app.config) and current.status == PI.REQUIRES_ACTION:
            ok = three_d_secure is not None
            gateway().sandbox_authenticate(current.id, current.client_secret or "", ok)
            current = gateway().retrieve_payment_intent(current.id)
    except errors.PaymentError as error:
        return Answer(
            503,
            error_body("payment_outcome_unknown", error.message, kind=SERVICE_UNAVAILABLE),
            {"Retry-After": "5"},
        )
    if current.status != PI.REQUIRES_ACTION:  # settled meanwhile (or in the sandbox)
        return _settled(session, order, current)
    if three_d_secure is None:
        return _not_authenticated(session, order, outcome)
    request = _confirmation_request(order, wanted)
    result = ledger.send(
        order,
        request,
        "confirmation with the agent's 3-D Secure result",
        lambda: gateway().confirm_with_three_d_secure(
            current.id, three_d_secure=three_d_secure, idempotency_key=request.idempotency_key
        ),
    )
    session = sessions.locked(agent, session.id)
    if isinstance(result, errors.PaymentError):  # unknown: the same key sends it again
        return _refused(session, order, request, result)
    return _settled(session, order, result)


def _confirmation_request(order: Order, wanted: str) -> StripeRequest:
    """The ledger's row for the confirmation: the one a lost answer left under this key
    (sent again with it, so Stripe answers it once), or a new one."""
    earlier = db.session.scalar(
        select(StripeRequest).where(StripeRequest.idempotency_key == wanted)
    )
    if earlier is not None and earlier.status in IN_FLIGHT and earlier.order_id == order.id:
        return earlier
    if earlier is not None:
        raise bad(
            "invalid",
            "This Idempotency-Key was used for another payment step; send a new one.",
        )
    return ledger.begin(order, CONFIRM, order.total_amount, None, idempotency_key=wanted)


def _not_authenticated(session: AgentCheckoutSession, order: Order, outcome: str) -> Answer:
    """The buyer's bank did not authenticate: nothing is held. The session is ready for
    another payment (a new token pays with a new PaymentIntent)."""
    words = (
        f"The buyer's bank did not authenticate the payment (3-D Secure: {outcome}). "
        "Ask the buyer for another payment method."
    )
    session.status = S.READY.value
    order.last_payment_error = words
    move(order, PaymentEvent.FAILED, source=SOURCE, detail=words)
    intent = order.stripe_payment_intent_id
    attempt_failed(order, intent or session.id, payment_intent=intent, reason=words)
    session.messages = [message("payment_declined", words)]
    return Answer(402, error_body("payment_declined", words, param=TOKEN_PARAM))
