"""The buyer's side: a pay link shows the order and starts exactly one payment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dashboard.domain.orders import OrderState
from dashboard.models import Order
from dashboard.payments import errors
from dashboard.payments.gateway import is_sandbox
from dashboard.services import orders, sandbox_payments
from dashboard.services.pay_links import PayLinkExpired, PayLinkInvalid, pay_links
from dashboard.services.payments.checkout import (
    STARTABLE,
    buyer_message,
    open_payment_intent,
    start_checkout,
)
from dashboard.services.payments.results import ActionRefused, ActionResult
from dashboard.services.payments.settle import refresh_from_stripe
from dashboard.views.access import public
from dashboard.views.forms import EmptyForm, SandboxCardForm
from dashboard.web import STRIPE_JS_CSP

bp = Blueprint("pay", __name__, url_prefix="/pay")
T = TypeVar("T")

CHECKOUT_UNAVAILABLE_IN_SANDBOX = (
    "Stripe Checkout is not available in the sandbox: the offline stand-in for Stripe "
    "(localstripe) has no Checkout Sessions. Pay with a test card below instead."
)


class _LinkProblem(Exception):
    def __init__(self, reason: str, status: int) -> None:
        self.reason = reason
        self.status = status


def _order_for(token: str) -> Order:
    try:
        order_id = pay_links().order_id_from(token)
    except PayLinkExpired as error:
        raise _LinkProblem("expired", 410) from error
    except PayLinkInvalid as error:
        raise _LinkProblem("invalid", 404) from error
    order = orders.get_order(order_id)
    if order is None:
        raise _LinkProblem("invalid", 404)
    return order


def _method(order: Order) -> str:
    if is_sandbox(current_app.config):
        return "payment_page"
    return order.payment_method or str(current_app.config["DEFAULT_PAYMENT_METHOD"])


def _page(order: Order, token: str, *, message: str | None = None, ok: bool = False) -> str:
    sandbox = is_sandbox(current_app.config)
    awaiting_3ds = sandbox and order.order_state is OrderState.PROCESSING
    return render_template(
        "pages/pay/show.html",
        order=order,
        token=token,
        message=message,
        ok=ok,
        method=_method(order),
        sandbox=sandbox,
        checkout_unavailable=CHECKOUT_UNAVAILABLE_IN_SANDBOX if sandbox else None,
        # Processing too: a buyer back from Stripe's page (or a closed card form) resumes the
        # same Checkout Session or PaymentIntent; the services re-read Stripe before reusing.
        can_pay=order.order_state in STARTABLE,
        awaiting_3ds=awaiting_3ds,
        status_message=buyer_message(order, None),
        card_form=SandboxCardForm(formdata=None),
        action_form=EmptyForm(),
    )


@bp.errorhandler(_LinkProblem)
def _bad_link(problem: _LinkProblem) -> ResponseReturnValue:
    """A tampered, unknown or expired link shows no order at all."""
    return render_template("pages/pay/unavailable.html", reason=problem.reason), problem.status


@dataclass(frozen=True)
class _Refused:
    """The pay page, rendered with the reason a payment step did not go ahead."""

    page: str


def _attempt(token: str, start: Callable[[], T]) -> T | _Refused:
    """Run a payment step; a refusal or Stripe error becomes the pay page with its message."""
    try:
        return start()
    except (ActionRefused, errors.PaymentError) as refused:
        return _Refused(_page(_order_for(token), token, message=refused.message))


def _form_expired(order: Order, token: str) -> ResponseReturnValue:
    return _page(order, token, message="Reload the page and try again."), 400


@bp.route("/<token>")
@public
def show(token: str) -> ResponseReturnValue:
    """The order summary, and a way to pay while nothing is held yet."""
    return _page(_order_for(token), token)


@bp.route("/<token>/checkout", methods=["POST"])
@public
def checkout(token: str) -> ResponseReturnValue:
    """Start (or resume) Stripe Checkout for the order and go there."""
    order = _order_for(token)
    if not EmptyForm().validate_on_submit():
        return _form_expired(order, token)
    base = current_app.config["PUBLIC_BASE_URL"]
    url = _attempt(
        token,
        lambda: start_checkout(
            order.id,
            success_url=base
            + url_for("pay.done", token=token)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=base + url_for("pay.show", token=token),
            lifetime=timedelta(seconds=current_app.config["CHECKOUT_SESSION_LIFETIME"]),
        ),
    )
    if isinstance(url, _Refused):
        return url.page
    return redirect(url, code=303)


@bp.route("/<token>/card", methods=["POST"])
@public
def card(token: str) -> ResponseReturnValue:
    """Our own payment page: Stripe.js's Payment Element with the intent's client secret."""
    order = _order_for(token)
    if not EmptyForm().validate_on_submit():
        return _form_expired(order, token)
    if is_sandbox(current_app.config):
        return _page(order, token, message="In the sandbox, pay with a test card below.")
    intent = _attempt(token, lambda: open_payment_intent(order.id))
    if isinstance(intent, _Refused):
        return intent.page
    page = render_template(
        "pages/pay/card.html",
        order=order,
        client_secret=intent.client_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        return_url=current_app.config["PUBLIC_BASE_URL"] + url_for("pay.done", token=token),
    )
    # Nothing that holds a client secret is cached or leaves through the Referer header.
    headers = {
        "Content-Security-Policy": STRIPE_JS_CSP,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    return page, 200, headers


@bp.route("/<token>/sandbox-card", methods=["POST"])
@public
def sandbox_card(token: str) -> ResponseReturnValue:
    """Sandbox only: authorize with one of localstripe's test cards."""
    order = _order_for(token)
    if not is_sandbox(current_app.config):
        return _page(order, token, message="Test cards work only in the sandbox."), 404
    form = SandboxCardForm()
    if not form.validate_on_submit():
        return _page(order, token, message="Choose one of the test cards."), 422
    return _result_page(
        token, lambda: sandbox_payments.pay_with_test_card(order.id, form.card.data or "")
    )


@bp.route("/<token>/sandbox-authenticate", methods=["POST"])
@public
def sandbox_authenticate(token: str) -> ResponseReturnValue:
    """Sandbox only: pass or fail localstripe's stand-in for 3-D Secure."""
    order = _order_for(token)
    if not is_sandbox(current_app.config) or not EmptyForm().validate_on_submit():
        return _form_expired(order, token)
    ok = request.form.get("outcome") == "success"
    return _result_page(token, lambda: sandbox_payments.authenticate(order.id, ok))


def _result_page(token: str, step: Callable[[], ActionResult]) -> ResponseReturnValue:
    result = _attempt(token, step)
    if isinstance(result, _Refused):
        return result.page
    return _page(_order_for(token), token, message=result.message, ok=result.ok)


@bp.route("/<token>/done")
@public
def done(token: str) -> ResponseReturnValue:
    """Where Stripe sends the buyer back: read the truth from Stripe, then say it."""
    order = _order_for(token)
    result = _attempt(token, lambda: refresh_from_stripe(order.id))
    if isinstance(result, _Refused):
        return result.page
    fresh = _order_for(token)
    return _page(fresh, token, message=buyer_message(fresh, None), ok=result.ok)
