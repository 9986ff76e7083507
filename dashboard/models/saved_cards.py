"""Saved cards: the Stripe Customer kept for each buyer email, so a card the buyer agreed
to keep can place a new hold later (re-authorizing a lapsed one).

Schema changes go through migrations, as for every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow


class BuyerCustomer(Model):
    """One Stripe Customer per buyer email (normalised), made the first time a buyer agrees
    to keep a card and reused for every later order of that email. The unique email is what
    makes find-or-create safe when two pay pages of the same buyer ask at once."""

    __tablename__ = "buyer_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
