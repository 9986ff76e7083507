"""Which card features new payments ask Stripe for: the shop's choice (admin settings, kept
in the `settings` table so every worker reads the same) and, for one order, staff's choice
before its payment starts.

Each flag is `if_available` (ask; the card network may or may not grant it) or `never`.
Stripe's own default is `never`: while every flag is `never`, nothing is sent, and a
payment is asked for exactly as before these settings existed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.extensions import db
from dashboard.models import Order, Setting, TimelineKind, User, utcnow
from dashboard.services import orders, timeline

IF_AVAILABLE = "if_available"
NEVER = "never"
CHOICES = (IF_AVAILABLE, NEVER)
# Stripe's parameter names under payment_method_options.card, and what staff read.
FLAGS: dict[str, str] = {
    "request_extended_authorization": "Longer hold (extended authorization)",
    "request_incremental_authorization": "Larger hold later (incremental authorization)",
    "request_multicapture": "Several captures (multicapture)",
    "request_overcapture": "Capture more than authorized (overcapture)",
}
_PREFIX = "card."


class CardRequestsLocked(ValueError):
    """The order's payment has started: what it asked for can no longer change."""


def shop_requests() -> dict[str, str]:
    """The shop's choice for every flag (a flag never set is `never`)."""
    rows = dict(
        db.session.execute(
            select(Setting.name, Setting.value).where(Setting.name.startswith(_PREFIX))
        ).all()
    )
    return {flag: _valid(rows.get(_PREFIX + flag)) or NEVER for flag in FLAGS}


def set_shop_requests(values: dict[str, str], *, by: User) -> None:
    insert = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    for flag in FLAGS:
        value = _valid(values.get(flag))
        if value is None:
            raise ValueError(f"Choose {IF_AVAILABLE} or {NEVER} for {flag}.")
        row = {"value": value, "changed_at": utcnow(), "changed_by_id": by.id}
        db.session.execute(
            insert(Setting)
            .values(name=_PREFIX + flag, **row)
            .on_conflict_do_update(index_elements=["name"], set_=row)
        )
    db.session.flush()


def order_overrides(order: Order) -> dict[str, str]:
    """Staff's choices for this order alone (flags left out follow the shop)."""
    saved = order.card_requests or {}
    return {flag: value for flag in FLAGS if (value := _valid(saved.get(flag))) is not None}


def for_order(order: Order) -> dict[str, str]:
    """What this order's payment asks for: the shop's choice, staff's override over it."""
    return {**shop_requests(), **order_overrides(order)}


def to_send(order: Order) -> dict[str, str] | None:
    """`payment_method_options.card` for a new PaymentIntent or Checkout Session: every
    flag, explicitly, when one asks for something; None (nothing sent) when none does."""
    chosen = for_order(order)
    return chosen if IF_AVAILABLE in chosen.values() else None


def set_order_requests(order: Order, values: dict[str, str], actor: User) -> None:
    """Staff's per-order choice: a flag's value, or "" to follow the shop's setting."""
    if not orders.can_choose_payment_method(order):
        raise CardRequestsLocked(
            "The payment has started: what it asks of the card can no longer change."
        )
    chosen = {flag: value for flag in FLAGS if (value := _valid(values.get(flag))) is not None}
    order.card_requests = chosen or None
    said = ", ".join(f"{FLAGS[flag].split(' (')[0].lower()}: {v}" for flag, v in chosen.items())
    timeline.append(
        order,
        TimelineKind.STAFF_ACTION,
        f"{actor.email} set what this order's payment asks of the card: "
        + (said or "the shop's settings"),
        actor=actor,
        data={"action": "set_card_requests", "card_requests": chosen},
    )
    db.session.flush()


def _valid(value: object) -> str | None:
    return value if isinstance(value, str) and value in CHOICES else None
