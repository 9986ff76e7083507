"""Orders: the list, the new-order form and the order page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.money import MoneyError
from dashboard.domain.orders import OrderState
from dashboard.models import utcnow
from dashboard.services import orders, timeline
from dashboard.views.access import READERS, STAFF, roles_required
from dashboard.views.forms import OrderForm, cursor_arg
from dashboard.views.order_page import detail_context, order_or_404, timeline_context
from dashboard.web import is_htmx

bp = Blueprint("orders", __name__)


@bp.route("/")
@roles_required(*READERS)
def home() -> ResponseReturnValue:
    """The dashboard opens on the order list."""
    return redirect(url_for("orders.index"))


@bp.route("/orders")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """The capture queue, then orders newest first; filter by state, search by number or id."""
    state_arg = request.args.get("state", "")
    try:
        state = OrderState(state_arg) if state_arg else None
    except ValueError:
        abort(400, description=f"There is no order state called {state_arg!r}.")
    search = request.args.get("q", "")[:254]
    if "\x00" in search:
        abort(400, description="Search by an order number, a Stripe id or an email, without NUL.")
    page = orders.list_orders(
        state=state,
        search=search,
        older_than=cursor_arg("older_than"),
        newer_than=cursor_arg("newer_than"),
        per_page=current_app.config["ORDERS_PER_PAGE"],
    )
    context = {"page": page, "state": state, "search": search, "states": list(OrderState)}
    if is_htmx():
        return render_template("partials/_order_rows.html", **context)
    now = utcnow()
    # Above the first, unfiltered page only: a search or a deeper page is looking elsewhere.
    landing = (
        state is None and not search and not request.args.keys() & {"older_than", "newer_than"}
    )
    queue = orders.capture_queue(now=now, limit=orders.CAPTURE_QUEUE_SIZE) if landing else []
    return render_template("pages/orders/index.html", **context, capture_queue=queue, now=now)


@bp.route("/orders/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new() -> ResponseReturnValue:
    """Create an order: buyer, currency and one or more lines."""
    form = OrderForm()
    if form.add_line.data and len(form.lines) < form.lines.max_entries:
        form.lines.append_entry()
        return render_template("pages/orders/new.html", form=form)
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("pages/orders/new.html", form=form), status
    try:
        order = orders.create_order(
            actor=current_user._get_current_object(),
            buyer_name=form.buyer_name.data or "",
            buyer_email=form.buyer_email.data or "",
            currency=form.currency.data or "",
            lines=form.line_drafts,
        )
    except MoneyError as error:
        form.form_errors.append(str(error))
        return render_template("pages/orders/new.html", form=form), 422
    return redirect(url_for("orders.detail", order_id=order.id), code=303)


@bp.route("/orders/<int:order_id>")
@roles_required(*READERS)
def detail(order_id: int) -> ResponseReturnValue:
    """One order: lines, totals, state, the buyer's pay link and the timeline."""
    return render_template("pages/orders/detail.html", **detail_context(order_or_404(order_id)))


@bp.route("/orders/<int:order_id>/timeline", endpoint="timeline")
@roles_required(*READERS)
def timeline_before(order_id: int) -> ResponseReturnValue:
    """Earlier timeline entries: the htmx "show earlier" fragment, or a page without JS."""
    order = order_or_404(order_id)
    before = cursor_arg("before")
    context = {"order": order, **timeline_context(timeline.window(order.id, before=before))}
    if is_htmx():
        return render_template("partials/_timeline_entries.html", **context)
    return render_template("pages/orders/timeline.html", **context)
