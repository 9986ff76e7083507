"""The product catalog: what an order line (and an agent's checkout item) can name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.domain.money import format_minor
from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow

# A product id is part of URLs and of agents' requests: letters, digits, "-" and "_"
# (domain/catalog.py checks the characters; the column holds at most this many, byte-ordered
# on PostgreSQL as on SQLite so the list reads the same everywhere).
PRODUCT_ID = String(64).with_variant(String(64, collation="C"), "postgresql")


class Product(Model):
    """Something the shop sells at one price in one currency. Never deleted: deactivated,
    so the orders that named it keep making sense."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("unit_amount > 0", name="unit_amount_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        Index("ix_products_active_id", "active", "id"),
    )

    id: Mapped[str] = mapped_column(PRODUCT_ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Minor units of `currency` (1250 = $12.50), as every amount in the dashboard.
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # None: not counted (always available); a number: how many can still be sold.
    stock: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def price_display(self) -> str:
        """ "$12.50"."""
        return format_minor(self.unit_amount, self.currency)
