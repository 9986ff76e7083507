"""What a money action answers: refused before anything was sent, or how it went."""

from __future__ import annotations

from dataclasses import dataclass


class ActionRefused(Exception):
    """Not sent to Stripe: the order's state or the amount does not allow it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ActionInProgress(ActionRefused):
    """Another money action on this order is still waiting for Stripe's answer."""


class OrderNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str
    awaiting_confirmation: bool = False
