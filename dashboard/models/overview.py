"""The home page's rollups: figures per quarter hour per currency, and declines per reason,
kept in the transaction that records each capture, refund and payment attempt
(services/overview/rollups.py), so the page reads a few hundred rows whatever the number of
orders. `flask overview rebuild` recomputes them from the ledger and the attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime


class OverviewBucket(Model):
    """One quarter hour's figures in one currency (domain/overview.py says which figure is
    in which currency: fee and net are in the settlement currency)."""

    __tablename__ = "overview_buckets"

    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    captured: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    captures: Mapped[int] = mapped_column(default=0, server_default="0")
    refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refunds: Mapped[int] = mapped_column(default=0, server_default="0")
    fee: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    net: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    fees_unreported: Mapped[int] = mapped_column(default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    authorized: Mapped[int] = mapped_column(default=0, server_default="0")


class DeclineBucket(Model):
    """Failed payment attempts in one quarter hour, one currency, for one reason."""

    __tablename__ = "overview_declines"

    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(default=0, server_default="0")
