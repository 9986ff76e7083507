"""The buyer's side: a pay link shows the order and starts exactly one payment.

Every form here posts, then answers 303 to a page that shows how it went (the message is
flashed; the state is the order's): reloading that page never sends anything again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar, cast

from flask import (
    Blueprint,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

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
    payable_intent,
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
FORM_EXPIRED = "This form had expired, so nothing was sent. Try again."


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
    """The pay page; without a message of its own it shows the one a form's step flashed."""
    if message is None:
        flashed = get_flashed_messages(with_categories=True)
        if flashed:
            category, message = cast(tuple[str, str], flashed[-1])
            ok = category == "success"
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


def _to_pay_page(token: str, message: str, *, ok: bool = False) -> Response:
    """After a form's step: to the pay page (303, a GET), which says how it went."""
    flash(message, "success" if ok else "error")
    return redirect(url_for("pay.show", token=token), code=303)


def _step(order: Order, token: str, start: Callable[[], T]) -> T | Response:
    """Run a payment step; refused, or failed at Stripe: to the pay page with the reason."""
    try:
        return start()
    except (ActionRefused, errors.PaymentError) as refused:
        return _to_pay_page(token, refused.message)


def _outcome(order: Order, token: str, step: Callable[[], ActionResult]) -> Response:
    result = _step(order, token, step)
    if isinstance(result, Response):
        return result
    return _to_pay_page(token, result.message, ok=result.ok)


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
        return _to_pay_page(token, FORM_EXPIRED)
    base = current_app.config["PUBLIC_BASE_URL"]
    url = _step(
        order,
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
    if isinstance(url, Response):
        return url
    return redirect(url, code=303)


@bp.route("/<token>/card", methods=["POST"])
@public
def card(token: str) -> ResponseReturnValue:
    """Open (or reuse) the order's PaymentIntent for our payment page, then show that page."""
    order = _order_for(token)
    if not EmptyForm().validate_on_submit():
        return _to_pay_page(token, FORM_EXPIRED)
    if is_sandbox(current_app.config):
        return _to_pay_page(token, "In the sandbox, pay with a test card below.")
    opened = _step(order, token, lambda: open_payment_intent(order.id))
    if isinstance(opened, Response):
        return opened
    return redirect(url_for("pay.card_page", token=token), code=303)


@bp.route("/<token>/card", methods=["GET"], endpoint="card_page")
@public
def card_page(token: str) -> ResponseReturnValue:
    """Our own payment page: Stripe.js's Payment Element with the intent's client secret."""
    order = _order_for(token)
    if is_sandbox(current_app.config):
        return redirect(url_for("pay.show", token=token), code=303)
    try:
        intent = payable_intent(order.id)
    except errors.PaymentError as failed:
        return _page(order, token, message=failed.message)
    if intent is None or intent.client_secret is None:
        # Nothing opened yet, or paid or failed meanwhile: the pay page says which.
        return redirect(url_for("pay.show", token=token), code=303)
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
        return _to_pay_page(token, "Choose one of the test cards.")
    return _outcome(
        order, token, lambda: sandbox_payments.pay_with_test_card(order.id, form.card.data or "")
    )


@bp.route("/<token>/sandbox-authenticate", methods=["POST"])
@public
def sandbox_authenticate(token: str) -> ResponseReturnValue:
    """Sandbox only: pass or fail localstripe's stand-in for 3-D Secure."""
    order = _order_for(token)
    if not is_sandbox(current_app.config):
        return _page(order, token, message="Test cards work only in the sandbox."), 404
    if not EmptyForm().validate_on_submit():
        return _to_pay_page(token, FORM_EXPIRED)
    ok = request.form.get("outcome") == "success"
    return _outcome(order, token, lambda: sandbox_payments.authenticate(order.id, ok))


@bp.route("/<token>/done")
@public
def done(token: str) -> ResponseReturnValue:
    """Where Stripe sends the buyer back: the truth from Stripe, never from the redirect."""
    order = _order_for(token)
    try:
        result = refresh_from_stripe(order.id)
    except (ActionRefused, errors.PaymentError) as refused:
        return _page(_order_for(token), token, message=refused.message)
    fresh = _order_for(token)
    return _page(fresh, token, message=buyer_message(fresh, None), ok=result.ok)
