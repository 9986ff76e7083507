"""Home: the page after sign-in (how the business is doing, what needs staff today), and
the lists behind its figures (open holds, captures, refunds, payment attempts and
declines)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from dashboard.domain.days import NotADay, days_span, parse_day
from dashboard.models import utcnow
from dashboard.services import alerts
from dashboard.services.overview import movements
from dashboard.services.overview.home import home_figures
from dashboard.views.access import READERS, roles_required
from dashboard.views.charts import charts_for, seconds
from dashboard.views.forms import BadListQuery, cursor_arg
from dashboard.web import viewer_time_zone

bp = Blueprint("home", __name__)


@bp.route("/")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """Today, 7 and 30 days per currency; holds, disputes and webhooks now."""
    zone = viewer_time_zone().zone
    figures = home_figures(zone, alerts.alert_window())
    return render_template(
        "pages/home.html",
        figures=figures,
        charts=charts_for(figures),
        lag={"p50": seconds(figures.webhooks.lag_p50), "p99": seconds(figures.webhooks.lag_p99)},
        zone_name=zone.key,
        now=figures.now,
    )


@bp.route("/holds")
@roles_required(*READERS)
def hold_list() -> ResponseReturnValue:
    """The orders holding money in one currency, as Home counts them: all, or (with
    `expiring=1`) those whose capture deadline falls within the alert window or has passed."""
    args = {name: request.args.get(name, "").strip() for name in ("currency", "expiring")}
    window, now = alerts.alert_window(), utcnow()
    try:
        currency = _currency(args["currency"])
        if args["expiring"] not in ("", "1"):
            raise BadListQuery("Add expiring=1 for the holds running out soon, or leave it out.")
        page = movements.list_holds(
            currency,
            now,
            window,
            expiring_only=args["expiring"] == "1",
            after=cursor_arg("after"),
        )
    except BadListQuery as problem:
        return render_template("pages/holds.html", args=args, problem=str(problem)), 400
    hours = int(window.total_seconds() // 3600)
    return render_template("pages/holds.html", args=args, page=page, hours=hours, now=now)


def _currency(currency: str) -> str:
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise BadListQuery("The currency is a three-letter code, such as USD.")
    return currency.upper()


_LIST_PAGES = {
    movements.SETTLED: "pages/settled.html",
    **{kind: "pages/attempts.html" for kind in movements.ATTEMPT_KINDS},
}


@bp.route("/movements")
@roles_required(*READERS)
def movement_list() -> ResponseReturnValue:
    """The captures, refunds, what Stripe settled (fees and net) or payment attempts (all
    decided ones, or the declined ones, of one reason) of one currency over whole days, as
    the home page counts them."""
    names = ("kind", "currency", "from", "to", "reason")
    args = {name: request.args.get(name, "").strip() for name in names}
    kind = args["kind"]
    template = _LIST_PAGES.get(kind, "pages/movements.html")
    try:
        currency, span = _movement_query(args)
        reason = _reason(args["reason"], kind)
        page: movements.AttemptPage | movements.MovementPage | movements.SettledPage
        if kind in movements.ATTEMPT_KINDS:
            page = movements.list_attempts(
                currency,
                span[0],
                span[1],
                reason=reason,
                declined_only=kind == "decline",
                older_than=cursor_arg("older_than"),
            )
        elif kind == movements.SETTLED:
            page = movements.list_settled(
                currency, span[0], span[1], older_than=cursor_arg("older_than")
            )
        else:
            page = movements.list_movements(
                kind, currency, span[0], span[1], older_than=cursor_arg("older_than")
            )
    except BadListQuery as problem:
        return render_template(template, args=args, problem=str(problem)), 400
    return render_template(template, args=args, page=page)


def _reason(reason: str, kind: str) -> str | None:
    if not reason:
        return None
    if kind != "decline":
        raise BadListQuery("Only declines are listed by reason.")
    if len(reason) > 64 or not reason.isascii() or not reason.isprintable():
        raise BadListQuery("A decline reason is a code such as insufficient_funds.")
    return reason


def _movement_query(args: dict[str, str]) -> tuple[str, tuple[datetime, datetime]]:
    if args["kind"] not in (*movements.KINDS, movements.SETTLED, *movements.ATTEMPT_KINDS):
        raise BadListQuery(
            "Choose captures (kind=capture), refunds (kind=refund), what Stripe settled "
            "(kind=settled), payment attempts (kind=attempt) or declines (kind=decline)."
        )
    currency = _currency(args["currency"])
    try:
        first, last = parse_day(args["from"]), parse_day(args["to"])
    except NotADay:
        raise BadListQuery("The days are dates written YYYY-MM-DD (such as 2026-12-06).") from None
    if first > last:
        raise BadListQuery("The “from” day is after the “to” day: swap them.")
    span = days_span(first, last, viewer_time_zone().zone)
    if span.start is None or span.end is None:
        raise BadListQuery("Those days are beyond the calendar.")
    return currency, (span.start, span.end)
