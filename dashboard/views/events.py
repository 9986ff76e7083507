"""The Stripe event log: every stored event, webhook health, one event's details, Reprocess."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dashboard.extensions import db
from dashboard.models import EventStatus, StripeEvent, utcnow
from dashboard.services import event_log
from dashboard.services.inbox import health
from dashboard.views.access import READERS, STAFF, roles_required
from dashboard.views.charts import seconds
from dashboard.views.forms import BadListQuery, cursor_arg, search_arg
from dashboard.web import is_htmx

bp = Blueprint("events", __name__)


def _event(event_id: int) -> StripeEvent:
    return db.get_or_404(StripeEvent, event_id, description=f"There is no stored event {event_id}.")


@bp.route("/events")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """Stored events, newest first: filter by type, status and when they were last received
    (`hours`), search by id, order or email."""
    search = request.args.get("q", "").strip()
    flagged = request.args.get("flagged") == "1"
    type_ = status = None
    hours: int | None = None
    problem = None
    try:
        search = search_arg(MAX_SEARCH)
        type_ = event_log.parse_type(request.args.get("type", ""))
        status = event_log.parse_status(request.args.get("status", ""))
        hours = event_log.parse_hours(request.args.get("hours", ""))
        log = event_log.event_log(
            type_=type_,
            status=status,
            search=search,
            flagged=flagged,
            hours=hours,
            older_than=cursor_arg("older_than"),
            newer_than=cursor_arg("newer_than"),
            per_page=current_app.config["EVENTS_PER_PAGE"],
        )
    except (event_log.InvalidFilter, BadListQuery) as invalid:
        # The log itself, saying what is wrong with its query instead of listing events.
        problem = str(invalid)
        log = event_log.without_rows()
    context = {
        "log": log,
        "page": log.page,
        "type": type_,
        "status": status,
        "statuses": list(EventStatus),
        "search": search,
        "flagged": flagged,
        "hours": hours,
        "now": utcnow(),
        "problem": problem,
    }
    if is_htmx():  # 200 even with a problem: htmx swaps no 4xx answer in
        return render_template("partials/_event_rows.html", **context)
    return render_template("pages/events/index.html", **context), 400 if problem else 200


@bp.route("/events/lag")
@roles_required(*READERS)
def lag() -> ResponseReturnValue:
    """The deliveries behind Home's lag figures: the events Stripe created in the last day
    and delivered, slowest first, with the median and 99th percentile Home shows."""
    try:
        page = health.slowest_deliveries(
            after=cursor_arg("after"), per_page=current_app.config["EVENTS_PER_PAGE"]
        )
    except (BadListQuery, health.LostPlace) as problem:
        return render_template("pages/events/lag.html", problem=str(problem)), 400
    return render_template(
        "pages/events/lag.html",
        page=page,
        lag={"p50": seconds(page.lag_p50), "p99": seconds(page.lag_p99)},
        seconds=seconds,
    )


# An event id is at most 255 characters (the column); an email at most 254.
MAX_SEARCH = 255


@bp.route("/events/<int:event_id>")
@roles_required(*READERS)
def detail(event_id: int) -> ResponseReturnValue:
    """One event: what became of it and why, its error, its payload, links to Stripe."""
    return _render_event("pages/events/detail.html", event_id, result=None)


@bp.route("/events/<int:event_id>/raw")
@roles_required(*READERS)
def raw(event_id: int) -> ResponseReturnValue:
    """The event's JSON (redacted) and its Stripe Dashboard links: the timeline's expand."""
    return _render_event("partials/_event_raw.html", event_id)


def _render_event(template: str, event_id: int, **extra: object) -> str:
    row = _event(event_id)
    return render_template(
        template,
        event=row,
        pretty=event_log.pretty_json(row.payload),
        links=event_log.dashboard_links(row),
        **extra,
    )


@bp.route("/events/<int:event_id>/reprocess", methods=["POST"])
@roles_required(*STAFF)
def reprocess(event_id: int) -> ResponseReturnValue:
    """Run a failed, pending or unmatched event again; applied and ignored ones stay as they are."""
    _event(event_id)
    result = event_log.reprocess(event_id)
    if is_htmx():
        return render_template("partials/_event_status.html", event=result.event, result=result)
    flash(result.message, "success" if result.ok else "error")
    return redirect(url_for("events.detail", event_id=event_id), code=303)
