"""The checkout API's one entry point: every request checked (`gate`), a POST's
Idempotency-Key claimed or replayed (`idempotency`), the operation run, its answer kept
for the key and noted on the session (and the order's timeline)."""

from __future__ import annotations

from dashboard.domain import acp
from dashboard.services.acp import carts, completion, gate, idempotency, sessions
from dashboard.services.acp.answers import Answer
from dashboard.services.acp.gate import AcpCall


def handle(call: AcpCall) -> Answer:
    """The answer to one request; an `AcpRefusal` (raised) keeps nothing."""
    agent = gate.admit(call)
    if call.method == "GET":
        answer = sessions.read(agent, call.session_id)
        sessions.log_request(agent, call, call.session_id, answer, replayed=False)
        return answer
    key = gate.idempotency_key(call)
    body = carts.json_object(call.body, required=call.operation != "cancel")
    endpoint = f"{call.method} {call.path}"[:255]
    claimed = idempotency.claim(agent, endpoint, key, acp.body_fingerprint(body))
    if isinstance(claimed, Answer):
        session_id = call.session_id or claimed.body.get("id")
        sessions.log_request(agent, call, session_id, claimed, replayed=True)
        return claimed
    if call.operation == "create":
        answer = sessions.create(agent, body)
    elif call.operation == "update":
        answer = sessions.update(agent, call.session_id, body)
    elif call.operation == "complete":
        answer = completion.complete(agent, call.session_id, body, endpoint, key)
    else:
        answer = sessions.cancel(agent, call.session_id)
    idempotency.answered(claimed, answer)
    session_id = call.session_id or answer.body.get("id")
    sessions.log_request(agent, call, session_id, answer, replayed=False)
    return answer
