"""What the checkout API answers: an `Answer` (kept, and replayed for its
Idempotency-Key), or an `AcpRefusal`, raised, which keeps nothing (the request boundary
rolls back) and is drawn as the protocol's flat Error object."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Error.type values of the schema.
INVALID_REQUEST = "invalid_request"
PROCESSING_ERROR = "processing_error"
SERVICE_UNAVAILABLE = "service_unavailable"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_body(
    code: str, message: str, *, kind: str = INVALID_REQUEST, param: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "code": code, "message": message}
    if param is not None:
        body["param"] = param
    return body


class AcpRefusal(HTTPException):
    """A request refused before anything was written: the protocol's Error, its status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        kind: str = INVALID_REQUEST,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description=message)
        self.code = status
        self.body = {**error_body(code, message, kind=kind, param=param), **(extra or {})}
        self.extra_headers = headers or {}


def refusal_for(error: HTTPException) -> AcpRefusal:
    """Any HTTP error met under the API (an unknown path, a wrong method, a crash) as the
    protocol's Error object."""
    if isinstance(error, AcpRefusal):
        return error
    status = error.code or 500
    if status >= 500:
        return AcpRefusal(
            status,
            "internal_error",
            "Something went wrong on our side. Nothing was kept; try again.",
            kind=PROCESSING_ERROR,
        )
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status, "invalid")
    return AcpRefusal(status, code, error.description or error.name)


def bad(code: str, message: str, param: str | None = None) -> AcpRefusal:
    """400 invalid_request: the request as sent cannot be done."""
    return AcpRefusal(400, code, message, param=param)


def respond(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
    """The JSON answer, with the request's Idempotency-Key (on a POST) and Request-Id
    echoed as the protocol asks, and never cached."""
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    key = request.headers.get("Idempotency-Key")
    if request.method == "POST" and key is not None:
        response.headers["Idempotency-Key"] = key
    request_id = request.headers.get("Request-Id")
    if request_id:
        response.headers["Request-Id"] = request_id
    response.headers["Cache-Control"] = "no-store"
    return response


def refusal_response(error: HTTPException) -> Response:
    """Any HTTP error under the API as the protocol's Error (web.py's error handlers)."""
    refusal = refusal_for(error)
    log.info(
        "checkout API refused %s %s: %s %s",
        request.method,
        request.path,
        refusal.code,
        refusal.body["code"],
        extra={"request_id": request.headers.get("Request-Id"), "status": refusal.code},
    )
    return respond(refusal.code or 500, refusal.body, refusal.extra_headers)


def is_agent_api(path: str) -> bool:
    return path == "/checkout_sessions" or path.startswith("/checkout_sessions/")
