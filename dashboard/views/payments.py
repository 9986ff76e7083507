"""Staff money actions on an order: capture, void, refund, a new hold with the saved card
or a new pay link (each said, then confirmed), check with Stripe, and how the buyer pays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.money import MoneyError, parse_major
from dashboard.domain.state_machine import StaffAction
from dashboard.models import Order
from dashboard.payments import errors
from dashboard.services import card_requests, orders
from dashboard.services.payments import renewal, staff
from dashboard.services.payments import review as reviews
from dashboard.services.payments import settle as settlement
from dashboard.services.payments.results import ActionRefused, ActionResult, OrderNotFound
from dashboard.services.payments.review import AmountRefused, Review
from dashboard.views.access import STAFF, roles_required
from dashboard.views.forms import (
    CaptureForm,
    ConfirmForm,
    EmptyForm,
    PaymentMethodForm,
    RefundForm,
    VoidForm,
)
from dashboard.views.hold_forms import (
    IncrementForm,
    OrderCardRequestsForm,
    PartialCaptureForm,
    ReleaseForm,
    chosen,
)
from dashboard.views.order_page import detail_context, order_or_404
from dashboard.web import is_htmx

bp = Blueprint("payments", __name__)

AnyActionForm = (
    CaptureForm | VoidForm | RefundForm | PartialCaptureForm | ReleaseForm | IncrementForm
)
FORMS: dict[StaffAction, type[AnyActionForm]] = {
    StaffAction.CAPTURE: CaptureForm,
    StaffAction.VOID: VoidForm,
    StaffAction.REFUND: RefundForm,
    StaffAction.PARTIAL_CAPTURE: PartialCaptureForm,
    StaffAction.RELEASE: ReleaseForm,
    StaffAction.INCREMENT: IncrementForm,
}


def _respond(
    order_id: int,
    result: ActionResult | None,
    status: int = 200,
    **panel: Any,
) -> ResponseReturnValue:
    """htmx: the panel and timeline re-rendered in place; otherwise back to the order page
    (or, for a form that must be corrected, the order page itself with the form as typed)."""
    if is_htmx() or panel:
        context = detail_context(order_or_404(order_id), **panel)
        template = "partials/_payment_update.html" if is_htmx() else "pages/orders/detail.html"
        return render_template(template, result=result, **context), status
    if result is not None:
        flash(result.message, "success" if result.ok else "error")
    return redirect(url_for("orders.detail", order_id=order_id), code=303)


@dataclass(frozen=True)
class Asked:
    """A money action as the form asked for it."""

    action: StaffAction
    amount: int | None
    reason: str | None
    basis: int | None = None  # on a confirmation: what the confirmed sentence was about


def _asked(order: Order, action: StaffAction) -> Asked | ResponseReturnValue:
    """The action the posted form asks for, or the panel with the form as typed and what
    is wrong said beside the field (422): a refused amount is never replaced."""
    form = FORMS[action]()
    key = f"{action.value}_form"
    if not form.validate_on_submit():
        return _respond(order.id, None, 422, **{key: form})
    reason = getattr(form, "reason", None)
    reason_value = reason.data if reason is not None else None
    if action in (StaffAction.VOID, StaffAction.RELEASE):
        return Asked(action, None, reason_value)
    if isinstance(form, RefundForm) and form.refund_all.data:
        return Asked(action, order.amount_refundable, reason_value)
    amount_field = getattr(form, "amount")  # noqa: B009 (the other forms have one)
    text = (amount_field.data or "").strip()
    if not text:
        amount_field.errors = [f"Enter the amount to {action.value}."]
        return _respond(order.id, None, 422, **{key: form})
    try:
        amount = parse_major(text, order.currency)
    except MoneyError as error:
        amount_field.errors = [str(error)]
        return _respond(order.id, None, 422, **{key: form})
    return Asked(action, amount, reason_value)


def _review(order_id: int, action: StaffAction) -> ResponseReturnValue:
    """Say exactly what the action will do and ask to confirm it; nothing is sent."""
    order = order_or_404(order_id)
    asked = _asked(order, action)
    if not isinstance(asked, Asked):
        return asked
    try:
        said = reviews.review(order_id, action, amount=asked.amount, reason=asked.reason)
    except AmountRefused as refused:
        form = FORMS[action]()
        getattr(form, "amount").errors = [refused.message]  # noqa: B009 (amount forms)
        return _respond(order_id, None, 422, **{f"{action.value}_form": form})
    except ActionRefused as refused:
        return _respond(order_id, ActionResult(False, refused.message), 409)
    return _ask_to_confirm(order, said)


def _ask_to_confirm(order: Order, said: Review, note: str | None = None) -> ResponseReturnValue:
    """htmx: the panel with a dialog over it; without JavaScript, a confirmation page."""
    confirm = ConfirmForm(
        formdata=None,
        amount=said.amount,
        reason=said.reason,
        basis=said.basis,
    )
    if is_htmx():  # the panel alone: nothing else on the page has changed
        # The panel keeps what was typed behind the dialog (renewals have nothing typed).
        typed = {f"{said.action.value}_form": FORMS[said.action]()} if said.action in FORMS else {}
        context = detail_context(order, **typed)
        return render_template(
            "partials/_payment_panel.html",
            result=None,
            review=said,
            confirm_form=confirm,
            review_note=note,
            **context,
        )
    return render_template(
        "pages/orders/confirm.html",
        order=order,
        review=said,
        confirm_form=confirm,
        review_note=note,
    )


def _confirmed(
    order_id: int, action: StaffAction, act: Callable[[Asked], ActionResult]
) -> ResponseReturnValue:
    """Send the confirmed action, if the order is still as the confirmation described it."""
    order = order_or_404(order_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _respond(order_id, ActionResult(False, "Nothing was sent: ask again."), 422)
    asked = Asked(action, form.amount.data, form.reason.data or None, form.basis.data)
    try:
        said = reviews.review(order_id, action, amount=asked.amount, reason=asked.reason)
    except ActionRefused as refused:
        return _respond(order_id, ActionResult(False, refused.message), 409)
    if said.basis != form.basis.data:
        note = "The order changed since you were asked; here is what it would do now."
        return _ask_to_confirm(order, said, note)
    try:
        result = act(asked)
    except ActionRefused as refused:  # also ActionInProgress: nothing was sent
        return _respond(order_id, ActionResult(False, refused.message), 409)
    except OrderNotFound:
        abort(404)
    except errors.PaymentError as error:
        # Raised before any request was saved (no key yet): nothing moved.
        return _respond(order_id, ActionResult(False, error.message))
    return _respond(order_id, result)


def _user() -> Any:
    return current_user._get_current_object()


@bp.route("/orders/<int:order_id>/capture", methods=["POST"])
@roles_required(*STAFF)
def capture(order_id: int) -> ResponseReturnValue:
    """Say what capturing this amount does (the rest of the hold is released); ask to confirm."""
    return _review(order_id, StaffAction.CAPTURE)


@bp.route("/orders/<int:order_id>/capture/confirm", methods=["POST"])
@roles_required(*STAFF)
def capture_confirmed(order_id: int) -> ResponseReturnValue:
    """Capture the confirmed amount of the hold; the rest is released."""
    return _confirmed(
        order_id,
        StaffAction.CAPTURE,
        lambda asked: staff.capture_hold(order_id, asked.amount or 0, _user()),
    )


@bp.route("/orders/<int:order_id>/void", methods=["POST"])
@roles_required(*STAFF)
def void(order_id: int) -> ResponseReturnValue:
    """Say what voiding does (nothing is charged, for good); ask to confirm."""
    return _review(order_id, StaffAction.VOID)


@bp.route("/orders/<int:order_id>/void/confirm", methods=["POST"])
@roles_required(*STAFF)
def void_confirmed(order_id: int) -> ResponseReturnValue:
    """Release the hold without charging, as confirmed."""
    return _confirmed(
        order_id,
        StaffAction.VOID,
        lambda asked: staff.void_hold(order_id, asked.reason or "", _user()),
    )


@bp.route("/orders/<int:order_id>/refund", methods=["POST"])
@roles_required(*STAFF)
def refund(order_id: int) -> ResponseReturnValue:
    """Say how much goes back to which card; ask to confirm."""
    return _review(order_id, StaffAction.REFUND)


@bp.route("/orders/<int:order_id>/refund/confirm", methods=["POST"])
@roles_required(*STAFF)
def refund_confirmed(order_id: int) -> ResponseReturnValue:
    """Refund the confirmed amount of what was captured."""
    return _confirmed(
        order_id,
        StaffAction.REFUND,
        lambda asked: staff.refund_payment(
            order_id, asked.amount or 0, asked.reason or "", _user()
        ),
    )


def _review_renewal(order_id: int, action: StaffAction) -> ResponseReturnValue:
    """Say what the new hold or pay link will do and ask to confirm; nothing is sent."""
    order = order_or_404(order_id)
    if not EmptyForm().validate_on_submit():
        return _respond(order_id, ActionResult(False, "Nothing was sent: ask again."), 422)
    try:
        said = reviews.review(order_id, action)
    except ActionRefused as refused:
        return _respond(order_id, ActionResult(False, refused.message), 409)
    return _ask_to_confirm(order, said)


@bp.route("/orders/<int:order_id>/reauthorize", methods=["POST"])
@roles_required(*STAFF)
def reauthorize(order_id: int) -> ResponseReturnValue:
    """Say what a new hold on the saved card does; ask to confirm."""
    return _review_renewal(order_id, StaffAction.REAUTHORIZE)


@bp.route("/orders/<int:order_id>/reauthorize/confirm", methods=["POST"])
@roles_required(*STAFF)
def reauthorize_confirmed(order_id: int) -> ResponseReturnValue:
    """Place the new hold with the saved card, off-session, as confirmed."""
    return _confirmed(
        order_id, StaffAction.REAUTHORIZE, lambda asked: renewal.reauthorize(order_id, _user())
    )


@bp.route("/orders/<int:order_id>/new-pay-link", methods=["POST"])
@roles_required(*STAFF)
def new_pay_link(order_id: int) -> ResponseReturnValue:
    """Say what a new pay link does; ask to confirm."""
    return _review_renewal(order_id, StaffAction.NEW_PAY_LINK)


@bp.route("/orders/<int:order_id>/new-pay-link/confirm", methods=["POST"])
@roles_required(*STAFF)
def new_pay_link_confirmed(order_id: int) -> ResponseReturnValue:
    """Open a new payment for the remaining amount and give the buyer a fresh pay link."""
    return _confirmed(
        order_id, StaffAction.NEW_PAY_LINK, lambda asked: renewal.new_pay_link(order_id, _user())
    )


@bp.route("/orders/<int:order_id>/settle", methods=["POST"])
@roles_required(*STAFF)
def settle(order_id: int) -> ResponseReturnValue:
    """Ask Stripe how an unanswered action ended, and bring the order up to date."""
    order_or_404(order_id)
    try:
        result = settlement.settle(order_id)
    except OrderNotFound:
        abort(404)
    except errors.PaymentError as error:  # before any request was saved: nothing moved
        result = ActionResult(False, error.message)
    return _respond(order_id, result)


@bp.route("/orders/<int:order_id>/payment-method", methods=["POST"])
@roles_required(*STAFF)
def payment_method(order_id: int) -> ResponseReturnValue:
    """Choose how the buyer pays this order (before a payment is started)."""
    order = order_or_404(order_id)
    form = PaymentMethodForm()
    if not form.validate_on_submit():
        return _respond(order_id, ActionResult(False, "Choose a way to pay."), 422)
    try:
        orders.set_payment_method(order, form.method.data or "checkout", _user())
    except orders.PaymentMethodLocked as locked:
        return _respond(order_id, ActionResult(False, str(locked)), 409)
    return _respond(order_id, ActionResult(True, "Saved how the buyer pays."))


@bp.route("/orders/<int:order_id>/partial-capture", methods=["POST"])
@roles_required(*STAFF)
def partial_capture(order_id: int) -> ResponseReturnValue:
    """Say what capturing part of a multicapture hold does (the rest stays held)."""
    return _review(order_id, StaffAction.PARTIAL_CAPTURE)


@bp.route("/orders/<int:order_id>/partial-capture/confirm", methods=["POST"])
@roles_required(*STAFF)
def partial_capture_confirmed(order_id: int) -> ResponseReturnValue:
    """Capture the confirmed part; the rest stays held for later captures."""
    return _confirmed(
        order_id,
        StaffAction.PARTIAL_CAPTURE,
        lambda asked: staff.capture_part(order_id, asked.amount or 0, _user(), held=asked.basis),
    )


@bp.route("/orders/<int:order_id>/release", methods=["POST"])
@roles_required(*STAFF)
def release(order_id: int) -> ResponseReturnValue:
    """Say what releasing the rest of a partly captured hold does; ask to confirm."""
    return _review(order_id, StaffAction.RELEASE)


@bp.route("/orders/<int:order_id>/release/confirm", methods=["POST"])
@roles_required(*STAFF)
def release_confirmed(order_id: int) -> ResponseReturnValue:
    """Release what is still held; the captures stay."""
    return _confirmed(
        order_id, StaffAction.RELEASE, lambda asked: staff.release_rest(order_id, _user())
    )


@bp.route("/orders/<int:order_id>/increment", methods=["POST"])
@roles_required(*STAFF)
def increment(order_id: int) -> ResponseReturnValue:
    """Say what asking for a larger hold does (attempts left, a decline keeps the hold)."""
    return _review(order_id, StaffAction.INCREMENT)


@bp.route("/orders/<int:order_id>/increment/confirm", methods=["POST"])
@roles_required(*STAFF)
def increment_confirmed(order_id: int) -> ResponseReturnValue:
    """Ask the bank to raise the hold to the confirmed total."""
    return _confirmed(
        order_id,
        StaffAction.INCREMENT,
        lambda asked: staff.increment_hold(order_id, asked.amount or 0, _user()),
    )


@bp.route("/orders/<int:order_id>/card-requests", methods=["POST"])
@roles_required(*STAFF)
def order_card_requests(order_id: int) -> ResponseReturnValue:
    """Choose, for this order only, what its payment asks of the card (before it starts)."""
    order = order_or_404(order_id)
    form = OrderCardRequestsForm()
    if not form.validate_on_submit():
        return _respond(order_id, None, 422, card_requests_form=form)
    try:
        card_requests.set_order_requests(order, chosen(form), _user())
    except card_requests.CardRequestsLocked as locked:
        return _respond(order_id, ActionResult(False, str(locked)), 409)
    return _respond(order_id, ActionResult(True, "Saved what this order's payment asks for."))
