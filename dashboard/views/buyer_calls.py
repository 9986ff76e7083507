"""Who a buyer's request is, for the limits on how often buyers' pages reach Stripe
(services/buyer_limits.py): the link they hold and the address they ask from. Shared by the
pay, save-a-card and subscribe pages."""

from __future__ import annotations

from flask import current_app, request

from dashboard.services import buyer_limits
from dashboard.services.buyer_limits import BuyerCaller, BuyerLimits

TOO_MANY_STEPS = (
    "There have been too many attempts from here in a short time, so nothing was sent. "
    "Wait a minute, then try again."
)


def caller(token: str) -> BuyerCaller:
    return BuyerCaller(
        token=token,
        remote_addr=request.remote_addr or "unknown",
        limits=BuyerLimits.from_config(current_app.config),
    )


def admit_step(token: str) -> None:
    """Count a save-a-card or subscribe link's step that calls Stripe (it names no order),
    or raise TooManyStripeCalls."""
    buyer_limits.admit(None, caller(token), buyer_limits.PAYMENT)
