"""The buyer's side: a pay link shows the order and starts exactly one payment.

Every form here posts, then answers 303 to a page that shows how it went (the message is
flashed; the state is the order's): reloading that page never sends anything again. Each
step that calls Stripe counts against the pay link's and the address's limits
(services/buyer_limits.py).
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

from dashboard.domain.buyer_words import DECLINE_SENTENCES, GENERIC_DECLINE, Tone, Waiting
from dashboard.domain.orders import OrderState
from dashboard.models import Order
from dashboard.payments import errors
from dashboard.payments.gateway import is_sandbox
from dashboard.services import buyer_limits, orders, sandbox_payments
from dashboard.services.buyer_limits import TooManyStripeCalls
from dashboard.services.pay_links import PayLinkExpired, PayLinkInvalid, pay_links
from dashboard.services.payments import buyer_renewal, renewal
from dashboard.services.payments.checkout import (
    STARTABLE,
    buyer_status,
    open_payment_intent,
    payable_intent,
    refresh_for_buyer,
    start_checkout,
)
from dashboard.services.payments.results import ActionRefused, ActionResult
from dashboard.views.access import public
from dashboard.views.buyer_calls import caller
from dashboard.views.forms import EmptyForm, PayForm, SandboxCardForm
from dashboard.web import STRIPE_JS_CSP

bp = Blueprint("pay", __name__, url_prefix="/pay")
T = TypeVar("T")

CHECKOUT_UNAVAILABLE_IN_SANDBOX = (
    "Stripe Checkout is not available in the sandbox: the offline stand-in for Stripe "
    "(localstripe) has no Checkout Sessions. Pay with a test card below instead."
)
TOO_MANY_ATTEMPTS = (
    "There have been too many payment attempts from here in a short time, so nothing was "
    "sent. Wait a minute, then try again."
)
TOO_MANY_CHECKS = (
    "This page has checked your payment many times in a short time. Below is the last "
    "status we have; reload the page in a minute to check again."
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
    # A new hold is confirmed on our payment page: it is a payment the shop already opened.
    if is_sandbox(current_app.config) or buyer_renewal.waiting(order):
        return "payment_page"
    return order.payment_method or str(current_app.config["DEFAULT_PAYMENT_METHOD"])


def _page(order: Order, token: str, *, message: str | None = None, tone: Tone = Tone.ERROR) -> str:
    """The pay page; without a message of its own it shows the one a form's step flashed."""
    if message is None:
        flashed = get_flashed_messages(with_categories=True)
        if flashed:
            category, message = cast(tuple[str, str], flashed[-1])
            tone = Tone(category) if category in set(Tone) else Tone.ERROR
    sandbox = is_sandbox(current_app.config)
    renewing = buyer_renewal.waiting(order)
    awaiting_3ds = sandbox and order.order_state is OrderState.PROCESSING
    status = buyer_status(order, None, waiting=Waiting.VERIFICATION if awaiting_3ds else None)
    return render_template(
        "pages/pay/show.html",
        order=order,
        token=token,
        message=message,
        tone=tone,
        method=_method(order),
        sandbox=sandbox,
        checkout_unavailable=CHECKOUT_UNAVAILABLE_IN_SANDBOX if sandbox else None,
        # Processing too: a buyer back from Stripe's page (or a closed card form) resumes the
        # same Checkout Session or PaymentIntent; the services re-read Stripe before reusing.
        can_pay=order.order_state in STARTABLE or renewing,
        renewing=renewing,
        renewal_amount=renewal.remaining(order),
        awaiting_3ds=awaiting_3ds,
        status=status,
        card_form=SandboxCardForm(formdata=None),
        action_form=EmptyForm(),
        pay_form=PayForm(formdata=None),
    )


@bp.errorhandler(_LinkProblem)
def _bad_link(problem: _LinkProblem) -> ResponseReturnValue:
    """A tampered, unknown or expired link shows no order at all."""
    return render_template("pages/pay/unavailable.html", reason=problem.reason), problem.status


def _to_pay_page(token: str, message: str, *, tone: Tone = Tone.ERROR) -> Response:
    """After a form's step: to the pay page (303, a GET), which says how it went."""
    flash(message, tone.value)
    return redirect(url_for("pay.show", token=token), code=303)


def _tone(order: Order, result: ActionResult) -> Tone:
    """A step that went as asked is shown as the payment now stands: a hold is good news, a
    request to verify with the bank an instruction; one that did not, as a problem."""
    return buyer_status(order, None).tone if result.ok else Tone.ERROR


def _step(order: Order, token: str, start: Callable[[], T]) -> T | Response:
    """Run a payment step that calls Stripe, counted against the caller's limits. Over them,
    or refused, or failed at Stripe: to the pay page with the reason."""
    try:
        buyer_limits.admit(order.id, caller(token), buyer_limits.PAYMENT)
        return start()
    except TooManyStripeCalls:
        return _to_pay_page(token, TOO_MANY_ATTEMPTS)
    except (ActionRefused, errors.PaymentError) as refused:
        return _to_pay_page(token, refused.message)


def _outcome(order: Order, token: str, step: Callable[[], ActionResult]) -> Response:
    result = _step(order, token, step)
    if isinstance(result, Response):
        return result
    # `order` is the session's one copy, re-read by the step: it shows where it now stands.
    return _to_pay_page(token, result.message, tone=_tone(order, result))


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
    form = PayForm()
    if not form.validate_on_submit():
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
            keep_card=bool(form.keep_card.data),
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
    form = PayForm()
    if not form.validate_on_submit():
        return _to_pay_page(token, FORM_EXPIRED)
    if is_sandbox(current_app.config):
        return _to_pay_page(token, "In the sandbox, pay with a test card below.")
    keep = bool(form.keep_card.data)
    opened = _step(order, token, lambda: open_payment_intent(order.id, keep_card=keep))
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
        intent = payable_intent(order.id, caller(token))
    except TooManyStripeCalls as limited:
        return _page(order, token, message=TOO_MANY_ATTEMPTS), 429, _retry(limited)
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
        # Stripe.js says why a confirmation failed with Stripe's code: the page says it with
        # the same sentences as every other buyer page.
        decline_sentences=DECLINE_SENTENCES,
        generic_decline=GENERIC_DECLINE,
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
    keep = bool(form.keep_card.data)
    return _outcome(
        order,
        token,
        lambda: sandbox_payments.pay_with_test_card(order.id, form.card.data or "", keep_card=keep),
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
    """Where Stripe sends the buyer back: the truth from Stripe (re-read at most once per
    order per few seconds), never from the redirect itself."""
    order = _order_for(token)
    try:
        result = refresh_for_buyer(order.id, caller(token))
    except TooManyStripeCalls as limited:
        return _page(order, token, message=TOO_MANY_CHECKS), 429, _retry(limited)
    except (ActionRefused, errors.PaymentError) as refused:
        return _page(_order_for(token), token, message=refused.message)
    fresh = _order_for(token)
    return _page(
        fresh, token, message=buyer_status(fresh, None).sentence, tone=_tone(fresh, result)
    )


def _retry(limited: TooManyStripeCalls) -> dict[str, str]:
    return {"Retry-After": str(limited.retry_after)}
