"""Tables of the buyer's pages: their calls to Stripe.

Schema changes go through migrations, as for every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow


class BuyerStripeCall(Model):
    """A buyer's request let through to Stripe: the return page re-reading the payment, or
    a payment step. Shared by every worker, they bound how often one pay link or one address
    may make Stripe calls on the merchant's account, and how often an order is re-read.
    Rows older than the window are deleted as new ones arrive."""

    __tablename__ = "buyer_stripe_calls"
    __table_args__ = (
        Index("ix_buyer_stripe_calls_link_created", "link_digest", "created_at"),
        Index("ix_buyer_stripe_calls_remote_created", "remote_addr", "created_at"),
        Index("ix_buyer_stripe_calls_order_kind_created", "order_id", "kind", "created_at"),
        Index("ix_buyer_stripe_calls_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a save-a-card or subscribe link's call: they name no order.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # SHA-256 of the pay link's token: the token itself opens the order's pay page.
    link_digest: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # "reread" | "payment"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
