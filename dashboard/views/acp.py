"""The Agentic Commerce Protocol's checkout API (`/checkout_sessions`, five operations):
JSON in and out, for AI agents, authenticated by their API key (Bearer), not by a sign-in,
so CSRF-exempt like Stripe's webhook route. Each view reads the request and calls
`services.acp.api.handle`; a refusal it raises is drawn by web.py's error handlers as the
protocol's Error object, and keeps nothing."""

from __future__ import annotations

from flask import Blueprint, Response, request

from dashboard.extensions import csrf
from dashboard.services.acp import api
from dashboard.services.acp.answers import AcpRefusal, respond
from dashboard.services.acp.gate import AcpCall
from dashboard.views.access import public

bp = Blueprint("acp", __name__)
# Agents cannot send our CSRF token; their API key (and signature) authenticates them.
csrf.exempt(bp)

# No request of the protocol comes near this; a larger body is refused unread.
MAX_BODY = 64 * 1024


def _body() -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise AcpRefusal(413, "too_large", f"The body is larger than {MAX_BODY} bytes.")
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise AcpRefusal(413, "too_large", f"The body is larger than {MAX_BODY} bytes.")
    return body


def _answer(operation: str, session_id: str | None = None) -> Response:
    headers = request.headers
    call = AcpCall(
        operation=operation,
        method=request.method,
        path=request.path,
        session_id=session_id,
        authorization=headers.get("Authorization"),
        api_version=headers.get("API-Version"),
        idempotency_key=headers.get("Idempotency-Key"),
        request_id=headers.get("Request-Id"),
        signature=headers.get("Signature"),
        timestamp=headers.get("Timestamp"),
        body=_body() if request.method == "POST" else b"",
    )
    answer = api.handle(call)
    return respond(answer.status, answer.body, answer.headers)


@bp.post("/checkout_sessions")
@public
def create_session() -> Response:
    """Create a checkout session (201)."""
    return _answer("create")


@bp.get("/checkout_sessions/<session_id>")
@public
def get_session(session_id: str) -> Response:
    """The session's latest authoritative state."""
    return _answer("get", session_id)


@bp.post("/checkout_sessions/<session_id>")
@public
def update_session(session_id: str) -> Response:
    """Change the items, the buyer or the fulfillment details."""
    return _answer("update", session_id)


@bp.post("/checkout_sessions/<session_id>/complete")
@public
def complete_session(session_id: str) -> Response:
    """Pay with the agent's shared payment token: the session becomes an order."""
    return _answer("complete", session_id)


@bp.post("/checkout_sessions/<session_id>/cancel")
@public
def cancel_session(session_id: str) -> Response:
    """Cancel a session not yet completed (405 once completed or canceled)."""
    return _answer("cancel", session_id)
