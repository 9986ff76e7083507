"""The checks every checkout API request passes before anything is read or written: the
agent's key, the protocol version, the request's signature (when the agent registered a
signing key), the agent's rate limit, and the Idempotency-Key of a POST."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain import acp
from dashboard.models import Agent, utcnow
from dashboard.services import agents
from dashboard.services.acp.answers import AcpRefusal, bad
from dashboard.services.two_factor import encryption


@dataclass(frozen=True)
class AcpCall:
    """One request to the API, as the view read it."""

    operation: str  # create, update, get, complete, cancel
    method: str
    path: str
    session_id: str | None
    authorization: str | None
    api_version: str | None
    idempotency_key: str | None
    request_id: str | None
    signature: str | None
    timestamp: str | None
    body: bytes


def agent_of(call: AcpCall) -> Agent:
    """The agent whose live key the request bears, within its rate limit; or a refusal."""
    scheme, _, key = (call.authorization or "").partition(" ")
    agent = agents.authenticate(key.strip()) if scheme.lower() == "bearer" else None
    if agent is None:
        raise AcpRefusal(
            401,
            "invalid_api_key",
            "Send Authorization: Bearer with a live API key of a registered agent.",
            headers={"WWW-Authenticate": 'Bearer realm="checkout"'},
        )
    return agent


def check_version(call: AcpCall) -> None:
    supported = ", ".join(acp.SUPPORTED_VERSIONS)
    if not call.api_version:
        raise AcpRefusal(
            400,
            "missing_api_version",
            f"The API-Version header is required. Supported versions: {supported}.",
            param="API-Version",
            headers={"Supported-Versions": supported},
        )
    if call.api_version.strip() not in acp.SUPPORTED_VERSIONS:
        raise AcpRefusal(
            400,
            "unsupported_api_version",
            f"API-Version {call.api_version.strip()[:40]} is not supported. "
            f"Supported versions: {supported}.",
            param="API-Version",
            headers={"Supported-Versions": supported},
        )


def check_signature(agent: Agent, call: AcpCall) -> None:
    try:
        key = agents.signing_key(agent)
    except encryption.Unreadable:
        # SECRET_KEY changed since the agent registered: its key cannot be checked.
        raise AcpRefusal(
            401,
            "invalid_signature",
            "This agent's signing key cannot be read here; the merchant must register the "
            "agent again.",
        ) from None
    if not key:
        return
    try:
        acp.verify_signature(key, call.signature, call.timestamp, call.body, utcnow())
    except acp.SignatureProblem as problem:
        raise AcpRefusal(401, "invalid_signature", str(problem)) from None


def check_rate(agent: Agent) -> None:
    verdict = agents.take_rate_limit_place(agent)
    if not verdict.allowed:
        wait = verdict.retry_after
        raise AcpRefusal(
            429,
            "rate_limited",
            f"Too many requests from this agent. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )


def idempotency_key(call: AcpCall) -> str:
    key = call.idempotency_key
    if key is None:
        raise bad("idempotency_key_required", "Idempotency-Key header is required")
    if not 1 <= len(key) <= acp.IDEMPOTENCY_KEY_MAX:
        raise bad(
            "invalid_idempotency_key",
            f"The Idempotency-Key must be 1 to {acp.IDEMPOTENCY_KEY_MAX} characters.",
            param="Idempotency-Key",
        )
    return key


def admit(call: AcpCall) -> Agent:
    """Every check in the order the protocol's errors are most useful in."""
    agent = agent_of(call)
    check_version(call)
    check_signature(agent, call)
    check_rate(agent)
    return agent
