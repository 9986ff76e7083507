"""Orders: the list, the new-order form and the order page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.catalog import ProductError
from dashboard.domain.money import MoneyError
from dashboard.domain.name_search import TooManyWords
from dashboard.domain.orders import OrderState
from dashboard.models import utcnow
from dashboard.services import orders, products
from dashboard.services.pagination import Page
from dashboard.views.access import READERS, STAFF, roles_required
from dashboard.views.catalog_forms import ProductPickerForm
from dashboard.views.forms import BadListQuery, OrderForm, cursor_arg, search_arg
from dashboard.views.list_dates import created_days, created_range_arg
from dashboard.views.order_page import (
    TimelineSort,
    detail_context,
    order_or_404,
    timeline_context,
    timeline_sort_arg,
)
from dashboard.web import is_htmx, viewer_time_zone

bp = Blueprint("orders", __name__)


@bp.route("/orders")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """The capture queue, then orders newest first; filter by state and created date,
    search by number, Stripe id, buyer email or name."""
    state_arg = request.args.get("state", "")
    search = request.args.get("q", "").strip()
    state = None
    days = created_days()  # shown back in the form as typed, also when one cannot be used
    try:
        state = _state(state_arg)
        search = search_arg(MAX_SEARCH)
        created = created_range_arg(viewer_time_zone().zone)  # the days as staff see them
        page = orders.list_orders(
            state=state,
            search=search,
            created_from=created.start,
            created_before=created.end,
            older_than=cursor_arg("older_than"),
            newer_than=cursor_arg("newer_than"),
            per_page=current_app.config["ORDERS_PER_PAGE"],
        )
    except (BadListQuery, TooManyWords) as problem:
        return _list_problem(str(problem), state=state, search=search, **days)
    context = {
        "page": page,
        "state": state,
        "search": search,
        **days,
        "states": list(OrderState),
    }
    if is_htmx():
        return render_template("partials/_order_rows.html", **context)
    now = utcnow()
    # Above the first, unfiltered page only: a filter or a deeper page is looking elsewhere.
    landing = (
        state is None
        and not search
        and not any(days.values())
        and not request.args.keys() & {"older_than", "newer_than"}
    )
    queue = orders.capture_queue(now=now, limit=orders.CAPTURE_QUEUE_SIZE) if landing else []
    return render_template("pages/orders/index.html", **context, capture_queue=queue, now=now)


# The search box's own limit: the longest email an order can hold.
MAX_SEARCH = 254


def _state(text: str) -> OrderState | None:
    if not text:
        return None
    try:
        return OrderState(text)
    except ValueError:
        names = ", ".join(state.value for state in OrderState)
        raise BadListQuery(f"There is no order state called {text!r}; try {names}.") from None


def _list_problem(message: str, **filters: object) -> ResponseReturnValue:
    """The order list itself, saying what is wrong with its query instead of listing: 400,
    but 200 to htmx (which swaps no 4xx answer in, and would leave the old rows showing)."""
    context = {
        **filters,
        "page": Page(rows=[], newer_than=None, older_than=None),
        "states": list(OrderState),
        "problem": message,
    }
    if is_htmx():
        return render_template("partials/_order_rows.html", **context)
    page = render_template("pages/orders/index.html", **context, capture_queue=[], now=utcnow())
    return page, 400


@bp.route("/orders/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new() -> ResponseReturnValue:
    """Create an order: buyer, currency and one or more lines."""
    form = OrderForm()
    picker = ProductPickerForm(prefix="catalog")
    picker.offer(products.active_products())
    if picker.add_product.data:
        _add_product_line(form, picker)
        return render_template("pages/orders/new.html", form=form, picker=picker)
    if form.add_line.data:
        if form.room_for_a_line:
            form.lines.append_entry()
        else:
            form.lines.errors = [form.no_room_message()]
        return render_template("pages/orders/new.html", form=form, picker=picker)
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("pages/orders/new.html", form=form, picker=picker), status
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
        return render_template("pages/orders/new.html", form=form, picker=picker), 422
    return redirect(url_for("orders.detail", order_id=order.id), code=303)


def _add_product_line(form: OrderForm, picker: ProductPickerForm) -> None:
    """Fill the first blank line (or a new one) from the chosen product."""
    blank = [entry for entry in form.lines if entry.form.is_blank()]
    try:
        line = products.as_order_line(
            picker.product.data or "",
            form.currency.data or "",
            order_has_lines=len(blank) < len(form.lines),
        )
    except ProductError as error:
        picker.product.errors = list(error.problems.values())
        return
    if not blank and not form.room_for_a_line:
        picker.product.errors = [form.no_room_message()]
        return
    entry = blank[0] if blank else form.lines.append_entry()
    entry.form.description.data = line.description
    entry.form.quantity.data = line.quantity
    entry.form.unit_price.data = line.unit_price
    form.currency.data = line.currency


@bp.route("/orders/<int:order_id>")
@roles_required(*READERS)
def detail(order_id: int) -> ResponseReturnValue:
    """One order: lines, totals, state, the buyer's pay link and the timeline (`sort`:
    oldest-first, the default, or newest-first)."""
    order = order_or_404(order_id)
    try:
        sort = timeline_sort_arg()
    except BadListQuery as problem:
        context = detail_context(order, sort=TimelineSort.OLDEST_FIRST)
        return render_template("pages/orders/detail.html", **context, problem=str(problem)), 400
    return render_template("pages/orders/detail.html", **detail_context(order, sort=sort))


@bp.route("/orders/<int:order_id>/timeline", endpoint="timeline")
@roles_required(*READERS)
def timeline_before(order_id: int) -> ResponseReturnValue:
    """Earlier timeline entries: the htmx "show earlier" fragment, or a page without JS."""
    order = order_or_404(order_id)
    try:
        before = cursor_arg("before")
        sort = timeline_sort_arg()
    except BadListQuery as problem:
        context = {
            "order": order,
            "lines": [],
            "earlier": None,
            "sort": None,
            "problem": str(problem),
        }
        if is_htmx():  # 200: htmx swaps no 4xx answer in
            return render_template("partials/_timeline_entries.html", **context)
        return render_template("pages/orders/timeline.html", **context), 400
    context = {"order": order, **timeline_context(order, before=before, sort=sort)}
    if is_htmx():
        return render_template("partials/_timeline_entries.html", **context)
    return render_template("pages/orders/timeline.html", **context)
