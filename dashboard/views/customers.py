"""Customers: the list (search by email or name), a customer's page, removing a saved card
(with confirmation) and sending a "save a card" link."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.name_search import TooManyWords
from dashboard.payments import errors
from dashboard.services import card_setup, customer_list, customer_page, payment_methods
from dashboard.views.access import READERS, STAFF, roles_required
from dashboard.views.forms import BadListQuery, EmptyForm, cursor_arg, search_arg
from dashboard.web import is_htmx

bp = Blueprint("customers", __name__, url_prefix="/customers")
MAX_SEARCH = 254


@bp.route("")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """Customers newest first; search by the start of an email or of a name's words."""
    search = ""
    try:
        search = search_arg(MAX_SEARCH)
        page = customer_list.list_customers(
            search=search,
            older_than=cursor_arg("older_than"),
            newer_than=cursor_arg("newer_than"),
            per_page=current_app.config["ORDERS_PER_PAGE"],
        )
    except (BadListQuery, TooManyWords) as problem:
        context: dict[str, object] = {"page": None, "search": search, "problem": str(problem)}
        template = "partials/_customer_rows.html" if is_htmx() else "pages/customers/index.html"
        return render_template(template, **context), 200 if is_htmx() else 400
    context = {"page": page, "search": search, "problem": None}
    if is_htmx():
        return render_template("partials/_customer_rows.html", **context)
    return render_template("pages/customers/index.html", **context)


@bp.route("/<int:customer_id>")
@roles_required(*READERS)
def detail(customer_id: int) -> ResponseReturnValue:
    page = customer_page.customer_page(customer_id)
    if page is None:
        abort(404)
    return render_template("pages/customers/detail.html", page=page, form=EmptyForm())


@bp.route("/<int:customer_id>/payment-methods/<int:method_id>/detach", methods=["GET"])
@roles_required(*STAFF)
def detach_confirm(customer_id: int, method_id: int) -> ResponseReturnValue:
    """Say what removing the card will do, then ask to confirm."""
    review = customer_page.detach_review(customer_id, method_id)
    if review is None:
        abort(404)
    return render_template(
        "pages/customers/detach.html",
        review=review,
        label=payment_methods.describe(review.method),
        form=EmptyForm(),
    )


@bp.route("/<int:customer_id>/payment-methods/<int:method_id>/detach", methods=["POST"])
@roles_required(*STAFF)
def detach(customer_id: int, method_id: int) -> ResponseReturnValue:
    method = payment_methods.find(customer_id, method_id)
    if method is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        flash("This form had expired, so nothing was sent. Try again.", "error")
        return redirect(url_for("customers.detail", customer_id=customer_id), code=303)
    try:
        flash(payment_methods.detach(method, current_user), "success")
    except errors.PaymentError as failed:
        flash(f"The card was not removed: {failed.message}", "error")
    return redirect(url_for("customers.detail", customer_id=customer_id), code=303)


@bp.route("/<int:customer_id>/save-card-link", methods=["POST"])
@roles_required(*STAFF)
def save_card_link(customer_id: int) -> ResponseReturnValue:
    """Email the buyer a "save a card" link (nothing is charged)."""
    if not EmptyForm().validate_on_submit():
        flash("This form had expired, so nothing was sent. Try again.", "error")
        return redirect(url_for("customers.detail", customer_id=customer_id), code=303)
    link = card_setup.send_link_to(customer_id, current_user)
    if link is None:
        abort(404)
    flash(
        f"A save-a-card link is on its way to the buyer (you may pass it on too): {link}", "success"
    )
    return redirect(url_for("customers.detail", customer_id=customer_id), code=303)
