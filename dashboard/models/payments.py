"""The requests we make of Stripe (the ledger), and the outbox of domain events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from dashboard.domain.overview import settled_in
from dashboard.domain.state_machine import StaffAction
from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from dashboard.models.users import User


class RequestStatus(StrEnum):
    PENDING = "pending"  # key saved, call not answered yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # Stripe answered no; nothing moved
    UNKNOWN = "unknown"  # no answer (timeout, connection lost): settled by re-reading


IN_FLIGHT = (RequestStatus.PENDING.value, RequestStatus.UNKNOWN.value)
# The requests that move money: the staff actions.
MONEY_ACTIONS = tuple(action.value for action in StaffAction)
# The partial unique index's condition (migration 0016 has the same text).
ONE_IN_FLIGHT_WHERE = "status IN ('pending', 'unknown') AND action IN ({})".format(
    ", ".join(f"'{action}'" for action in MONEY_ACTIONS)
)


class StripeRequest(Model):
    """Every call that asks Stripe to do something, saved with its idempotency key first."""

    __tablename__ = "stripe_requests"
    __table_args__ = (
        Index("ix_stripe_requests_order_id_id", "order_id", "id"),
        # One money movement in flight per order: a second click finds this row, not Stripe.
        Index(
            "uq_stripe_requests_one_in_flight",
            "order_id",
            unique=True,
            sqlite_where=text(ONE_IN_FLIGHT_WHERE),
            postgresql_where=text(ONE_IN_FLIGHT_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    # Sent again unchanged on a retry: Stripe refuses a key reused with other parameters.
    reason: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING.value)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stripe_object_id: Mapped[str | None] = mapped_column(String(255))
    stripe_request_id: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actor: Mapped[User | None] = relationship()


class OutboxEvent(Model):
    """Domain events for other systems, written in the same transaction as the change.

    The contract is in docs/outbox.md. `dedupe_key` makes each event exist once. With
    OUTBOX_AMQP_URL set, the relay publishes it too: the columns from `published_at` on are
    its claim and retries, as for an email (models/relay.py).
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_acked_at_id", "acked_at", "id"),
        Index("ix_outbox_events_published_at_id", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for events about no order (a subscription's renewal).
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None: due at once (every event written before the relay published anything).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class PaymentAttempt(Model):
    """One attempt to take the buyer's money (a Stripe charge, or a PaymentIntent's failed
    verification with no charge): what the card was, how the bank and Radar answered.

    `details` holds `payments.charges.ChargeFacts` as JSON, merged over what was known before
    (silence in a later reading never erases a fact). Written from API answers and webhook
    payloads alike; the order page reads it and never calls Stripe.
    """

    __tablename__ = "payment_attempts"
    __table_args__ = (
        Index("ix_payment_attempts_order_id_id", "order_id", "id"),
        # The list behind Home's authorization rate and declines: one currency's days.
        Index("ix_payment_attempts_currency_first_seen_at_id", "currency", "first_seen_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # The charge's id, or "<payment intent>:<error code>" for a failure with no charge.
    attempt_key: Mapped[str] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # succeeded, pending, failed
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What Home counts it under (services/overview/rollups.py): its currency (its own, else
    # the order's) and, once declined, the reason. Kept by payments.records.keep_attempt.
    currency: Mapped[str | None] = mapped_column(String(3))
    decline_reason: Mapped[str | None] = mapped_column(String(64))


class MovementKind(StrEnum):
    CAPTURE = "capture"
    RELEASE = "release"  # the rest of a hold, given back when less was captured
    VOID = "void"  # the whole hold released (by staff, the sweep, or lapsed)
    REFUND = "refund"


class MoneyMovement(Model):
    """The order's ledger: every capture, release, void and refund, with who asked for it
    (our request, or None when made outside the dashboard) and, once Stripe reports it, its
    balance transaction (fee and net in the settlement currency).

    `movement_key` makes each one exist once however many times it is reported: the charge
    for a capture or a release, the PaymentIntent for a void, Stripe's refund id.
    """

    __tablename__ = "money_movements"
    __table_args__ = (
        Index("ix_money_movements_order_id_id", "order_id", "id"),
        # The payments export: what moved within a range of days, in the order it moved.
        Index("ix_money_movements_occurred_at_id", "occurred_at", "id"),
        Index("uq_money_movements_order_key", "order_id", "movement_key", unique=True),
        # The list behind the home page's captured and refunded figures: a kind, a currency,
        # a span of time, newest first.
        Index(
            "ix_money_movements_kind_currency_occurred_at",
            "kind",
            "currency",
            "occurred_at",
            "id",
        ),
        # The list behind its fees and net: what Stripe settled in a currency, newest first.
        Index(
            "ix_money_movements_settlement_currency_occurred_at_id",
            "settlement_currency",
            "occurred_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    movement_key: Mapped[str] = mapped_column(String(255))
    stripe_object_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # pending, succeeded, failed, canceled (refunds); captures, releases and voids succeed.
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("stripe_requests.id", ondelete="SET NULL")
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    balance_transaction_id: Mapped[str | None] = mapped_column(String(255))
    # `payments.charges.BalanceFacts` as JSON, once Stripe has reported it.
    balance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The currency `balance` settled in (upper case), kept with it so the fees and net Home
    # counts per settlement currency can be listed off an index; None until it is reported.
    settlement_currency: Mapped[str | None] = mapped_column(String(3))

    actor: Mapped[User | None] = relationship()
    request: Mapped[StripeRequest | None] = relationship()

    @validates("balance", "currency")
    def _settles(self, name: str, value: Any) -> Any:
        balance = value if name == "balance" else self.balance
        currency = value if name == "currency" else self.currency
        self.settlement_currency = settled_in(balance, currency)
        return value
