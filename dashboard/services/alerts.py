"""Alert emails to staff: a hold about to run out or run out, a dispute opened, a Stripe
event that keeps failing, a subscription's renewal payment failed. Each is queued through
the outbox (services/mail.py) in the transaction that noticed it, once per person and per
thing: its dedupe key names the hold (the order and its PaymentIntent), the dispute, the
event or the invoice, so a second sweep, a second host running the same sweep at the same
instant, or a redelivered event queues nothing more. Who gets which alert is each person's
choice (the account page), with their role's default until they choose (domain/alerts.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from dashboard.domain.alerts import AlertKind, wanted
from dashboard.domain.money import format_minor
from dashboard.domain.orders import OrderState
from dashboard.domain.time_zones import time_zone
from dashboard.extensions import db
from dashboard.models import (
    AlertChoice,
    Dispute,
    Order,
    StripeEvent,
    Subscription,
    SubscriptionInvoice,
    User,
    utcnow,
)
from dashboard.services import mail

# The states in which an order's card is held and not yet fully captured.
HELD = (OrderState.AUTHORIZED, OrderState.PARTLY_CAPTURED)


def choices(user: User) -> dict[AlertKind, bool]:
    """What the person chose, kind by kind (kinds they never chose are absent)."""
    rows = db.session.scalars(select(AlertChoice).where(AlertChoice.user_id == user.id))
    known = {kind.value for kind in AlertKind}
    return {AlertKind(row.kind): row.enabled for row in rows if row.kind in known}


def chosen(user: User) -> frozenset[AlertKind]:
    return wanted(user.role, choices(user))


def choose(user: User, enabled: frozenset[AlertKind]) -> None:
    """Keep the person's choice for every kind (from now on their role's default no longer
    speaks for them)."""
    rows = {
        row.kind: row
        for row in db.session.scalars(select(AlertChoice).where(AlertChoice.user_id == user.id))
    }
    for kind in AlertKind:
        row = rows.get(kind.value)
        if row is None:
            db.session.add(AlertChoice(user_id=user.id, kind=kind.value, enabled=kind in enabled))
        elif row.enabled != (kind in enabled):
            row.enabled = kind in enabled
            row.changed_at = utcnow()
    db.session.flush()


def recipients(kind: AlertKind) -> list[User]:
    """Active people who get this alert, in id order."""
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
    return [user for user in users if kind in chosen(user)]


def alert_window() -> timedelta:
    """How long before its deadline a hold counts as about to run out: staff are alerted,
    and may re-authorize it (services/payments/renewal.py)."""
    return timedelta(hours=int(current_app.config["HOLD_ALERT_HOURS"]))


# -- holds ------------------------------------------------------------------------------------


def sweep_holds(now: datetime | None = None) -> tuple[int, int]:
    """Queue an alert for every held order whose deadline is inside the alert window, and
    for every one past it; (about to run out, ran out) orders seen."""
    now = now or utcnow()
    held = db.session.scalars(
        select(Order)
        .where(
            Order.state.in_([state.value for state in HELD]),
            Order.capture_before <= now + alert_window(),
        )
        .order_by(Order.capture_before, Order.id)
    )
    expiring = lapsed = 0
    told = {kind: recipients(kind) for kind in (AlertKind.HOLD_EXPIRING, AlertKind.HOLD_LAPSED)}
    for order in held:
        assert order.capture_before is not None
        if order.capture_before <= now:
            hold_lapsed(order, told[AlertKind.HOLD_LAPSED])
            lapsed += 1
        else:
            hold_expiring(order, now, told[AlertKind.HOLD_EXPIRING])
            expiring += 1
    return expiring, lapsed


def hold_expiring(order: Order, now: datetime, people: list[User] | None = None) -> None:
    assert order.capture_before is not None
    left = _duration(order.capture_before - now)
    held = format_minor(order.amount_capturable or order.total_amount, order.currency)
    for user in recipients(AlertKind.HOLD_EXPIRING) if people is None else people:
        _queue(
            user,
            AlertKind.HOLD_EXPIRING,
            _hold_key(order, user),
            f"Order #{order.id}: the hold of {held} runs out in {left}",
            f"The buyer's card holds {held} for order #{order.id}, not yet captured.\n"
            f"The bank releases the hold {_at(order.capture_before, user)}. After that the "
            "money can no longer be captured from this hold.\n\n"
            "Capture it before then, or re-authorize it, on the order page:\n"
            f"{_order_link(order)}\n",
            order=order,
        )


def hold_lapsed(order: Order, people: list[User] | None = None) -> None:
    """The hold's deadline passed uncaptured (found by the sweep, or reported by Stripe
    when it released the hold); one email per person whichever says it first."""
    held = format_minor(order.amount_capturable or order.total_amount, order.currency)
    deadline = order.capture_before
    for user in recipients(AlertKind.HOLD_LAPSED) if people is None else people:
        when = f" {_at(deadline, user)}" if deadline is not None else ""
        _queue(
            user,
            AlertKind.HOLD_LAPSED,
            _hold_key(order, user),
            f"Order #{order.id}: the hold of {held} ran out before it was captured",
            f"The hold of {held} on the buyer's card for order #{order.id} ran out{when} "
            "without being captured. Nothing was charged.\n\n"
            "To still take the payment, re-authorize with a saved card or send the buyer a "
            "new pay link from the order page:\n"
            f"{_order_link(order)}\n",
            order=order,
        )


def _hold_key(order: Order, user: User) -> str:
    # A re-authorized order holds a new PaymentIntent: a new hold, alerted again.
    return f"{order.id}:{order.stripe_payment_intent_id or '-'}:{user.id}"


# -- disputes and events ----------------------------------------------------------------------


def dispute_opened(order: Order, dispute: Dispute) -> None:
    amount = format_minor(dispute.amount, dispute.currency)
    reason = dispute.reason.replace("_", " ") if dispute.reason else "no reason given"
    for user in recipients(AlertKind.DISPUTE_OPENED):
        due = (
            f"Evidence is due {_at(dispute.evidence_due_by, user)}; without it the bank "
            "decides for the buyer.\n"
            if dispute.evidence_due_by is not None
            else ""
        )
        _queue(
            user,
            AlertKind.DISPUTE_OPENED,
            f"{dispute.stripe_dispute_id}:{user.id}",
            f"Order #{order.id}: the buyer disputes {amount}",
            f"The buyer's bank opened a dispute of {amount} on order #{order.id} "
            f"(reason: {reason}). The money is taken back from your balance while it lasts.\n"
            + due
            + f"\nThe order and its dispute:\n{_order_link(order)}\n",
            order=order,
        )


def event_failing(row: StripeEvent) -> None:
    """Once an event has failed `EVENT_FAILING_ALERT_AFTER` times in a row."""
    if row.process_count < int(current_app.config["EVENT_FAILING_ALERT_AFTER"]):
        return
    link = _link("events.detail", event_id=row.id)
    order = db.session.get(Order, row.order_id) if row.order_id is not None else None
    for user in recipients(AlertKind.EVENT_FAILING):
        _queue(
            user,
            AlertKind.EVENT_FAILING,
            f"{row.event_id}:{user.id}",
            f"A Stripe event keeps failing: {row.type}",
            f"Stripe's event {row.event_id} ({row.type}) failed to apply "
            f"{row.process_count} times. The dashboard keeps it and tries again, but an "
            "order may show an out-of-date state until it applies.\n\n"
            f"The error: {row.error or 'not recorded'}\n\n"
            f"The event, with Reprocess:\n{link}\n",
            order=order,
        )


def renewal_failed(subscription: Subscription, invoice: SubscriptionInvoice) -> None:
    """A subscription's renewal payment failed: once per invoice and person."""
    amount = format_minor(invoice.amount_due, invoice.currency)
    buyer = subscription.buyer_email or subscription.stripe_customer_id
    link = _link("subscriptions.detail", subscription_id=subscription.id)
    for user in recipients(AlertKind.RENEWAL_FAILED):
        _queue(
            user,
            AlertKind.RENEWAL_FAILED,
            f"{invoice.stripe_invoice_id}:{user.id}",
            f"A subscription renewal of {amount} failed ({buyer})",
            f"The renewal payment of {amount} for {buyer}'s subscription failed"
            + (f": {invoice.failure_message}" if invoice.failure_message else "")
            + ".\nStripe tries the card again on its own schedule; the buyer can change "
            "their card through the customer portal link you can send from the "
            f"subscription's page:\n{link}\n",
            order=None,
        )


# -- the email --------------------------------------------------------------------------------


def _queue(
    user: User, kind: AlertKind, key: str, subject: str, body: str, *, order: Order | None
) -> None:
    footer = (
        f"\n--\nYou get this email because of your alert choices. Change them on your "
        f"account page: {_link('auth.account')}"
        "#alerts\n"
    )
    mail.queue_email(
        user.email, subject, body + footer, kind=f"alert_{kind.value}", dedupe_key=key, order=order
    )


def _order_link(order: Order) -> str:
    return _link("orders.detail", order_id=order.id)


def _link(endpoint: str, **values: object) -> str:
    """A page's address, built without a request (the sweep runs from the CLI)."""
    path: str = current_app.url_map.bind("localhost").build(endpoint, values)
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}"


def _at(moment: datetime, user: User) -> str:
    """The moment in the person's chosen zone (UTC when they have chosen none)."""
    zone = time_zone(user.time_zone) or ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"on {local:%a %d %b %Y at %H:%M} ({zone.key})"


def _duration(left: timedelta) -> str:
    hours = round(left.total_seconds() / 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, round(left.total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
