"""What the checkout API answers: an `Answer` (kept, and replayed for its
Idempotency-Key), or an `AcpRefusal`, raised, which keeps nothing (the request boundary
rolls back) and is drawn as the protocol's flat Error object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException

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
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
        status, "invalid"
    )
    return AcpRefusal(status, code, error.description or error.name)


def bad(code: str, message: str, param: str | None = None) -> AcpRefusal:
    """400 invalid_request: the request as sent cannot be done."""
    return AcpRefusal(400, code, message, param=param)
