"""The buyer's subscription pages, reached by signed links only: subscribing to a plan
(Stripe Checkout; in the sandbox a test card), and the billing link that opens Stripe's
customer portal. Every form answers 303 to a page that shows how it went."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dashboard.domain.subscriptions import STATUS_WORDS, cadence
from dashboard.payments.errors import PaymentError
from dashboard.services.buyer_limits import TooManyStripeCalls
from dashboard.services.payments.results import ActionRefused
from dashboard.services.subscriptions import buyer, links
from dashboard.views.access import public
from dashboard.views.buyer_calls import TOO_MANY_STEPS, admit_step
from dashboard.views.forms import EmptyForm
from dashboard.views.subscription_forms import SubscribeCardForm

bp = Blueprint("subscribe", __name__)
log = logging.getLogger(__name__)


def _problem(
    title: str, message: str, status: int, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    page = render_template("pages/pay/error.html", title=title, message=message, token=None)
    return page, status, headers or {}


def _bad_link(error: Exception) -> ResponseReturnValue:
    if isinstance(error, links.LinkExpired):
        return _problem("This link has expired", "Ask the shop for a new link.", 410)
    return _problem(
        "This payment link is not valid",
        "Check that you copied the whole link from the email.",
        404,
    )


def _admitted(token: str, check_link: Callable[[str], object]) -> None:
    """A link that is its own (else LinkInvalid or LinkExpired, counting nothing), then a
    step that calls Stripe counted against its and the address's limits (else
    TooManyStripeCalls)."""
    check_link(token)
    admit_step(token)


def _retry(limited: TooManyStripeCalls) -> dict[str, str]:
    return {"Retry-After": str(limited.retry_after)}


def _offer_page(
    token: str,
    *,
    message: str | None = None,
    ok: bool = False,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    try:
        offer = buyer.offer(token)
    except (links.LinkInvalid, links.LinkExpired) as error:
        return _bad_link(error)
    page = render_template(
        "pages/subscribe/show.html",
        offer=offer,
        token=token,
        card_form=SubscribeCardForm(),
        pay_form=EmptyForm(),
        message=message,
        ok=ok,
        status_words=STATUS_WORDS,
        cadence=cadence,
        withdrawn=buyer.WITHDRAWN,
    )
    return page, status, headers or {}


@bp.route("/subscribe/<token>")
@public
def show(token: str) -> ResponseReturnValue:
    """The plan the link offers, and how to subscribe."""
    return _offer_page(token)


@bp.route("/subscribe/<token>/checkout", methods=["POST"])
@public
def checkout(token: str) -> ResponseReturnValue:
    """Off to Stripe Checkout (subscription mode)."""
    if not EmptyForm().validate_on_submit():
        return _problem("This form has expired", "Go back and try again.", 400)
    try:
        _admitted(token, links.subscribe_target)
        url = buyer.checkout_url(token)
    except (links.LinkInvalid, links.LinkExpired) as error:
        return _bad_link(error)
    except TooManyStripeCalls as limited:
        return _offer_page(token, message=TOO_MANY_STEPS, status=429, headers=_retry(limited))
    except (ActionRefused, PaymentError) as error:
        return _offer_page(token, message=error.message)
    return redirect(url, code=303)


@bp.route("/subscribe/<token>/sandbox-card", methods=["POST"])
@public
def sandbox_card(token: str) -> ResponseReturnValue:
    """Sandbox only: subscribe with a test card."""
    form = SubscribeCardForm()
    if not form.validate_on_submit():
        return _problem("This form has expired", "Go back and try again.", 400)
    try:
        _admitted(token, links.subscribe_target)
        result = buyer.subscribe_with_test_card(token, form.card.data or "")
    except (links.LinkInvalid, links.LinkExpired) as error:
        return _bad_link(error)
    except TooManyStripeCalls as limited:
        return _offer_page(token, message=TOO_MANY_STEPS, status=429, headers=_retry(limited))
    except (ActionRefused, PaymentError) as error:
        return _offer_page(token, message=error.message)
    return redirect(url_for("subscribe.done", token=token, ok=int(result.ok)), code=303)


# A Checkout Session's id, as Stripe puts it in the return address.
CHECKOUT_SESSION = re.compile(r"cs_[A-Za-z0-9_]{1,252}")


@bp.route("/subscribe/<token>/done")
@public
def done(token: str) -> ResponseReturnValue:
    """Where the buyer lands after subscribing: back from Checkout (`session_id`), the
    session is re-read and its subscription kept at once; then the subscription as
    stored. A session id that is not one is not sent to Stripe; if Stripe cannot be asked
    now, the page says the subscription shows once Stripe confirms it (its webhook)."""
    session_id = request.args.get("session_id", "")
    if CHECKOUT_SESSION.fullmatch(session_id):
        try:
            _admitted(token, links.subscribe_target)
            buyer.confirm_checkout(token, session_id)
        except (links.LinkInvalid, links.LinkExpired) as error:
            return _bad_link(error)
        except TooManyStripeCalls:
            pass  # the webhook brings it; the page says so meanwhile
        except PaymentError as error:
            log.warning("subscribe: the Checkout Session could not be re-read: %s", error)
    return _offer_page(token, message=None, ok=True)


@bp.route("/billing/<token>", methods=["GET"])
@public
def billing(token: str) -> ResponseReturnValue:
    """The billing link's page: one button to Stripe's customer portal."""
    try:
        links.billing_target(token)
    except (links.LinkInvalid, links.LinkExpired) as error:
        return _bad_link(error)
    return render_template("pages/subscribe/billing.html", token=token, form=EmptyForm())


@bp.route("/billing/<token>", methods=["POST"])
@public
def billing_portal(token: str) -> ResponseReturnValue:
    """Off to Stripe's customer portal for the subscription's customer."""
    if not EmptyForm().validate_on_submit():
        return _problem("This form has expired", "Go back and try again.", 400)
    try:
        _admitted(token, links.billing_target)
        url = buyer.portal_url(token)
    except (links.LinkInvalid, links.LinkExpired) as error:
        return _bad_link(error)
    except TooManyStripeCalls as limited:
        title = "The billing page is not available"
        return _problem(title, TOO_MANY_STEPS, 429, _retry(limited))
    except PaymentError as error:
        return _problem("The billing page is not available", error.message, 502)
    return redirect(url, code=303)
