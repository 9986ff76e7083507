"""Staff money actions on an order: capture, void, refund, check with Stripe."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.money import MoneyError, parse_major
from dashboard.models import Order
from dashboard.payments import errors
from dashboard.services import orders
from dashboard.services.payments import settle as settlement
from dashboard.services.payments import staff
from dashboard.services.payments.results import ActionRefused, ActionResult, OrderNotFound
from dashboard.views.access import STAFF, roles_required
from dashboard.views.forms import CaptureForm, PaymentMethodForm, RefundForm, VoidForm
from dashboard.views.order_page import detail_context, order_or_404
from dashboard.web import is_htmx

bp = Blueprint("payments", __name__)


def _respond(order_id: int, result: ActionResult | None, status: int = 200) -> ResponseReturnValue:
    """htmx: the panel and timeline re-rendered in place; otherwise back to the order page."""
    if is_htmx():
        context = detail_context(order_or_404(order_id))
        return render_template("partials/_payment_update.html", result=result, **context), status
    if result is not None:
        flash(result.message, "success" if result.ok else "error")
    return redirect(url_for("orders.detail", order_id=order_id), code=303)


def _act(order_id: int, action: Callable[[], ActionResult]) -> ResponseReturnValue:
    try:
        result = action()
    except ActionRefused as refused:  # also ActionInProgress: nothing was sent
        return _respond(order_id, ActionResult(False, refused.message), 409)
    except OrderNotFound:
        abort(404)
    except errors.PaymentError as error:
        # Raised before any request was saved (no key yet): nothing moved.
        return _respond(order_id, ActionResult(False, error.message))
    return _respond(order_id, result)


def _amount(order: Order, text: str | None) -> int | ActionResult:
    try:
        return parse_major(text or "", order.currency)
    except MoneyError as error:
        return ActionResult(False, str(error))


@bp.route("/orders/<int:order_id>/capture", methods=["POST"])
@roles_required(*STAFF)
def capture(order_id: int) -> ResponseReturnValue:
    """Capture all or part of the hold; the rest is released."""
    order = order_or_404(order_id)
    form = CaptureForm()
    if not form.validate_on_submit():
        return _respond(order_id, ActionResult(False, "Enter the amount to capture."), 422)
    amount = _amount(order, form.amount.data)
    if isinstance(amount, ActionResult):
        return _respond(order_id, amount, 422)
    user = current_user._get_current_object()
    return _act(order_id, lambda: staff.capture_hold(order_id, amount, user))


@bp.route("/orders/<int:order_id>/void", methods=["POST"])
@roles_required(*STAFF)
def void(order_id: int) -> ResponseReturnValue:
    """Release the hold without charging."""
    order_or_404(order_id)
    form = VoidForm()
    if not form.validate_on_submit():
        return _respond(order_id, ActionResult(False, "Choose a reason for the void."), 422)
    user = current_user._get_current_object()
    reason = form.reason.data or ""
    return _act(order_id, lambda: staff.void_hold(order_id, reason, user))


@bp.route("/orders/<int:order_id>/refund", methods=["POST"])
@roles_required(*STAFF)
def refund(order_id: int) -> ResponseReturnValue:
    """Refund all or part of what was captured."""
    order = order_or_404(order_id)
    form = RefundForm()
    if not form.validate_on_submit():
        return _respond(order_id, ActionResult(False, "Enter an amount and a reason."), 422)
    amount = _amount(order, form.amount.data)
    if isinstance(amount, ActionResult):
        return _respond(order_id, amount, 422)
    user = current_user._get_current_object()
    reason = form.reason.data or ""
    return _act(order_id, lambda: staff.refund_payment(order_id, amount, reason, user))


@bp.route("/orders/<int:order_id>/settle", methods=["POST"])
@roles_required(*STAFF)
def settle(order_id: int) -> ResponseReturnValue:
    """Ask Stripe how an unanswered action ended, and bring the order up to date."""
    order_or_404(order_id)
    return _act(order_id, lambda: settlement.settle(order_id))


@bp.route("/orders/<int:order_id>/payment-method", methods=["POST"])
@roles_required(*STAFF)
def payment_method(order_id: int) -> ResponseReturnValue:
    """Choose how the buyer pays this order (before a payment is started)."""
    order = order_or_404(order_id)
    form = PaymentMethodForm()
    if not form.validate_on_submit():
        return _respond(order_id, ActionResult(False, "Choose a way to pay."), 422)
    try:
        orders.set_payment_method(
            order, form.method.data or "checkout", current_user._get_current_object()
        )
    except orders.PaymentMethodLocked as locked:
        return _respond(order_id, ActionResult(False, str(locked)), 409)
    return _respond(order_id, ActionResult(True, "Saved how the buyer pays."))
