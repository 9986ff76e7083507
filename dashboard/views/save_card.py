"""The buyer's "save a card" page: a signed link naming one customer; the card is saved by
a SetupIntent (`usage=off_session`) confirmed with Stripe.js on our page, on Stripe
Checkout in setup mode, or, in the sandbox, with a test card. Nothing is ever charged."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.utils import redirect

from dashboard.models import SavedPaymentMethod
from dashboard.payments import errors
from dashboard.payments.gateway import is_sandbox
from dashboard.payments.localstripe_compat import SANDBOX_CARDS
from dashboard.services import card_setup
from dashboard.services.buyer_limits import TooManyStripeCalls
from dashboard.services.card_setup import (
    SetupLink,
    SetupLinkExpired,
    SetupLinkInvalid,
    SetupMismatch,
)
from dashboard.services.payment_methods import describe
from dashboard.views.access import public
from dashboard.views.buyer_calls import TOO_MANY_STEPS, admit_step
from dashboard.views.customer_forms import SandboxSaveCardForm, SaveCardForm
from dashboard.web import STRIPE_JS_CSP

bp = Blueprint("save_card", __name__, url_prefix="/save-card")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
NOT_SAVED = "Your card was not saved. Try again, or use another card."


class _LinkProblem(Exception):
    def __init__(self, message: str, status: int) -> None:
        self.message = message
        self.status = status


@bp.errorhandler(_LinkProblem)
def _bad_link(problem: _LinkProblem) -> ResponseReturnValue:
    return _page(None, "", message=problem.message), problem.status


def _link(token: str) -> SetupLink:
    try:
        return card_setup.link_from(token)
    except SetupLinkExpired as error:
        raise _LinkProblem("This link has expired. Ask the shop for a new one.", 410) from error
    except SetupLinkInvalid as error:
        raise _LinkProblem("This link is not valid. Check it was copied whole.", 404) from error


def _over_the_limit(link: SetupLink, token: str) -> ResponseReturnValue | None:
    """Count a step that calls Stripe against the link's and the address's limits; over
    them, the page saying so (429), and nothing is sent."""
    try:
        admit_step(token)
    except TooManyStripeCalls as limited:
        headers = {**NO_STORE, "Retry-After": str(limited.retry_after)}
        return _page(link, token, message=TOO_MANY_STEPS), 429, headers
    return None


def _page(link: SetupLink | None, token: str, *, message: str = "", saved: str = "") -> str:
    sandbox = is_sandbox(current_app.config)
    form = SandboxSaveCardForm() if sandbox else SaveCardForm()
    return render_template(
        "pages/save_card/show.html",
        link=link,
        token=token,
        message=message,
        saved=saved,
        sandbox=sandbox,
        form=form,
    )


@bp.route("/<token>")
@public
def show(token: str) -> ResponseReturnValue:
    return _page(_link(token), token), 200, NO_STORE


@bp.route("/<token>/card", methods=["POST"])
@public
def card(token: str) -> ResponseReturnValue:
    """With the buyer's consent: our card page (Stripe.js confirms the SetupIntent)."""
    link = _link(token)
    if not SaveCardForm().validate_on_submit():
        return _page(link, token, message="Tick the box to let the shop keep the card."), 422
    if (refused := _over_the_limit(link, token)) is not None:
        return refused
    try:
        intent = card_setup.open_setup(link)
    except errors.PaymentError as failed:
        return _page(link, token, message=failed.message), 502
    page = render_template(
        "pages/save_card/card.html",
        link=link,
        client_secret=intent.client_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        return_url=current_app.config["PUBLIC_BASE_URL"] + url_for("save_card.done", token=token),
    )
    return page, 200, {**NO_STORE, "Content-Security-Policy": STRIPE_JS_CSP}


@bp.route("/<token>/checkout", methods=["POST"])
@public
def checkout(token: str) -> ResponseReturnValue:
    """With the buyer's consent: Stripe Checkout in setup mode."""
    link = _link(token)
    if not SaveCardForm().validate_on_submit():
        return _page(link, token, message="Tick the box to let the shop keep the card."), 422
    if (refused := _over_the_limit(link, token)) is not None:
        return refused
    base = current_app.config["PUBLIC_BASE_URL"]
    done = base + url_for("save_card.checkout_done", token=token)
    try:
        url = card_setup.start_checkout(
            link,
            f"{done}?session_id={{CHECKOUT_SESSION_ID}}",
            base + url_for("save_card.show", token=token),
        )
    except (errors.PaymentError, SetupMismatch) as failed:
        return _page(link, token, message=str(getattr(failed, "message", failed))), 502
    return redirect(url, code=303)


@bp.route("/<token>/sandbox-card", methods=["POST"])
@public
def sandbox_card(token: str) -> ResponseReturnValue:
    link = _link(token)
    if not is_sandbox(current_app.config):
        return _page(link, token, message="Test cards work only in the sandbox."), 404
    form = SandboxSaveCardForm()
    if not form.validate_on_submit() or form.card.data not in SANDBOX_CARDS:
        return _page(link, token, message="Tick the box and choose a test card."), 422
    if (refused := _over_the_limit(link, token)) is not None:
        return refused
    try:
        saved = card_setup.sandbox_save(link, SANDBOX_CARDS[form.card.data or ""][0])
    except errors.PaymentError as failed:
        return _page(link, token, message=failed.message), 200
    return _outcome(link, token, saved)


@bp.route("/<token>/done")
@public
def done(token: str) -> ResponseReturnValue:
    """Where Stripe.js sends the buyer back: what Stripe says, never the redirect itself."""
    link = _link(token)
    intent_id = request.args.get("setup_intent", "")
    if not intent_id.startswith("seti_") or len(intent_id) > 255:
        return _page(link, token, message=NOT_SAVED), 400
    if (refused := _over_the_limit(link, token)) is not None:
        return refused
    try:
        saved = card_setup.finish_intent(link, intent_id)
    except (errors.PaymentError, SetupMismatch):
        return _page(link, token, message=NOT_SAVED), 400
    return _outcome(link, token, saved)


@bp.route("/<token>/checkout-done")
@public
def checkout_done(token: str) -> ResponseReturnValue:
    link = _link(token)
    session_id = request.args.get("session_id", "")
    if not session_id.startswith("cs_") or len(session_id) > 255:
        return _page(link, token, message=NOT_SAVED), 400
    if (refused := _over_the_limit(link, token)) is not None:
        return refused
    try:
        saved = card_setup.finish_checkout(link, session_id)
    except (errors.PaymentError, SetupMismatch):
        return _page(link, token, message=NOT_SAVED), 400
    return _outcome(link, token, saved)


def _outcome(link: SetupLink, token: str, saved: SavedPaymentMethod | None) -> ResponseReturnValue:
    if saved is None:
        return _page(link, token, message=NOT_SAVED), 200, NO_STORE
    return _page(link, token, saved=f"{describe(saved)} is saved with the shop."), 200, NO_STORE
