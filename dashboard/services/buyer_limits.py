"""How often a buyer's pages may call Stripe on the merchant's account.

A pay link is public to whoever holds it, and each return-page visit or payment step costs
Stripe API calls counted against the merchant's rate limit; so does each step of a
save-a-card or subscribe link (a SetupIntent, a Checkout Session, a billing portal). So:
an order is re-read from Stripe for its return page at most once per `reread_interval`
(other visits answer from what is stored), and one link, or one address, may reach Stripe
at most so many times per `window` (an address is counted across every link it holds).
The counts are rows in the database, so every worker shares them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from dashboard.extensions import db
from dashboard.models import BuyerStripeCall, utcnow

REREAD = "reread"  # the return page reading the payment's state from Stripe
PAYMENT = "payment"  # a payment step: start Checkout, open the card form, pay, verify


@dataclass(frozen=True)
class BuyerLimits:
    per_link: int
    per_address: int
    window: timedelta
    reread_interval: timedelta

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BuyerLimits:
        return cls(
            per_link=int(config["PAY_STRIPE_CALLS_PER_LINK"]),
            per_address=int(config["PAY_STRIPE_CALLS_PER_ADDRESS"]),
            window=timedelta(seconds=int(config["PAY_STRIPE_CALL_WINDOW"])),
            reread_interval=timedelta(seconds=int(config["PAY_REREAD_INTERVAL"])),
        )


@dataclass(frozen=True)
class BuyerCaller:
    """Who is asking: the pay link they hold and the address they ask from."""

    token: str
    remote_addr: str
    limits: BuyerLimits

    @property
    def link_digest(self) -> str:
        return hashlib.sha256(self.token.encode()).hexdigest()


class TooManyStripeCalls(Exception):
    """This pay link or address has reached Stripe as often as the window allows."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def reread_due(order_id: int, limits: BuyerLimits, now: datetime | None = None) -> bool:
    """Whether the order's return page should re-read Stripe, or answer from what is stored
    (another visit re-read it within the interval). Call it with the order row locked, so
    that two workers cannot both find it due."""
    now = now or utcnow()
    last = db.session.scalar(
        select(func.max(BuyerStripeCall.created_at)).where(
            BuyerStripeCall.order_id == order_id, BuyerStripeCall.kind == REREAD
        )
    )
    return last is None or now - last >= limits.reread_interval


def admit(
    order_id: int | None, caller: BuyerCaller, kind: str, now: datetime | None = None
) -> None:
    """Count one call to Stripe for this caller, or raise TooManyStripeCalls (counting
    nothing) when their link or their address has had its share of the window. A
    save-a-card or subscribe link's call names no order."""
    now = now or utcnow()
    limits = caller.limits
    since = now - limits.window
    # What no limit or interval looks at any more: the table stays the size of a window.
    db.session.execute(
        delete(BuyerStripeCall).where(
            BuyerStripeCall.created_at < now - max(limits.window, limits.reread_interval)
        )
    )
    remote_addr = caller.remote_addr[:64]
    for column, value, limit in (
        (BuyerStripeCall.link_digest, caller.link_digest, limits.per_link),
        (BuyerStripeCall.remote_addr, remote_addr, limits.per_address),
    ):
        made, oldest = db.session.execute(
            select(func.count(), func.min(BuyerStripeCall.created_at)).where(
                column == value, BuyerStripeCall.created_at > since
            )
        ).one()
        if made >= limit:
            wait = (oldest + limits.window - now).total_seconds() if oldest else 1
            raise TooManyStripeCalls(max(1, math.ceil(wait)))
    db.session.add(
        BuyerStripeCall(
            order_id=order_id,
            link_digest=caller.link_digest,
            remote_addr=remote_addr,
            kind=kind,
            created_at=now,
        )
    )
    db.session.flush()
