"""Fees and net that Stripe reports after the fact: a capture's or refund's balance
transaction, named by Stripe before it could describe it, fetched once it exists (from the
handlers of the events that announce it, "Check with Stripe", and `flask stripe fees`)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import MoneyMovement, Order
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.services.payments import records

log = logging.getLogger(__name__)


def fetch_missing(order: Order) -> int:
    """Ask Stripe for the balance transactions this order's movements name but do not
    describe yet; how many were found. A failure leaves them to be asked for again: fees
    are never worth failing the event or action that asked."""
    found = 0
    for balance_id in records.missing_balances(order):
        try:
            balance = gateway().retrieve_balance_transaction(balance_id)
        except errors.PaymentError as error:
            log.warning(
                "balance transaction not read: %s",
                error.message,
                extra={"order_id": order.id, "balance_transaction": balance_id},
            )
            continue
        if balance is not None:
            records.keep_balance(order, balance)
            found += 1
    return found


def orders_missing_fees(limit: int) -> list[int]:
    """Orders with a capture or refund whose balance transaction is named but not read,
    oldest first."""
    return list(
        db.session.scalars(
            select(MoneyMovement.order_id)
            .where(
                MoneyMovement.balance_transaction_id.is_not(None),
                MoneyMovement.balance.is_(None),
            )
            .group_by(MoneyMovement.order_id)
            .order_by(MoneyMovement.order_id)
            .limit(limit)
        )
    )
