"""What the order page and its partials (payment panel, timeline) show: built here for the
orders blueprint (the page) and the payments blueprint (the panel re-rendered in place)."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from dashboard.domain.money import format_plain
from dashboard.domain.state_machine import ALLOWED_ACTIONS, StaffAction
from dashboard.extensions import db
from dashboard.models import Order, utcnow
from dashboard.payments.gateway import is_sandbox
from dashboard.services import orders, timeline
from dashboard.services.pay_links import pay_links
from dashboard.services.payments import ledger
from dashboard.views.forms import CaptureForm, PaymentMethodForm, RefundForm, VoidForm
from dashboard.views.payment_facts import payment_facts


def order_or_404(order_id: int) -> Order:
    """The order with its lines, or the 404 page that says there is none."""
    return db.get_or_404(
        Order,
        order_id,
        description=f"There is no order #{order_id}.",
        options=[orders.WITH_LINES],
    )


def timeline_context(window: timeline.TimelineWindow) -> dict[str, Any]:
    return {"entries": window.entries, "earlier": window.earlier}


def detail_context(order: Order, **forms: Any) -> dict[str, Any]:
    """Everything the order page and its partials show; `forms` replaces an action's empty
    form with the one as posted (a refused amount stays as typed, with its error)."""
    pay_url = current_app.config["PUBLIC_BASE_URL"] + url_for(
        "pay.show", token=pay_links().token_for(order.id)
    )
    state = order.order_state
    can = {action: state in allowed for action, allowed in ALLOWED_ACTIONS.items()}
    return {
        "order": order,
        "pay_url": pay_url,
        "pay_link_days": current_app.config["PAY_LINK_MAX_AGE"] // 86400,
        **timeline_context(timeline.window(order.id)),
        "in_flight": ledger.in_flight(order),
        "can_capture": can[StaffAction.CAPTURE],
        "can_void": can[StaffAction.VOID],
        "can_refund": can[StaffAction.REFUND],
        "capture_form": CaptureForm(
            formdata=None, amount=format_plain(order.amount_capturable, order.currency)
        ),
        "void_form": VoidForm(formdata=None),
        "refund_form": RefundForm(formdata=None),
        **forms,
        "method_form": PaymentMethodForm(
            formdata=None,
            method=order.payment_method or current_app.config["DEFAULT_PAYMENT_METHOD"],
        ),
        "can_choose_method": orders.can_choose_payment_method(order),
        "now": utcnow(),
        **payment_facts(order, sandbox=is_sandbox(current_app.config)),
    }
