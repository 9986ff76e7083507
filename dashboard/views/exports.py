"""Exports: CSV downloads of orders, payments and disputes for a span of days (in the
viewer's time zone), streamed. Support may export too; each export is audited."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.days import NotADay, days_span, parse_day
from dashboard.services import exports
from dashboard.services.exports import Export, ExportKind
from dashboard.views.access import READERS, roles_required
from dashboard.web import viewer_time_zone

bp = Blueprint("exports", __name__)


@bp.route("/exports")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """The export form: what, from which day to which day."""
    return render_template("pages/exports/index.html", kinds=list(ExportKind), typed={})


class BadExport(ValueError):
    """A query the export cannot run: the message says what it takes."""


def _day(text: str, label: str) -> tuple[date | None, str]:
    if not text:
        return None, ""
    try:
        return parse_day(text), text
    except NotADay:
        raise BadExport(
            f"The “{label}” day is not a date: write it as YYYY-MM-DD (such as 2026-12-06)."
        ) from None


@bp.route("/exports/<kind>.csv")
@roles_required(*READERS)
def download(kind: str) -> ResponseReturnValue:
    """The CSV (`from`, `to`: days, both included, in the viewer's zone; `bom=1`: a byte
    order mark, for spreadsheets), streamed."""
    typed = {
        "from": request.args.get("from", "").strip(),
        "to": request.args.get("to", "").strip(),
        "bom": request.args.get("bom", ""),
    }
    try:
        try:
            what = ExportKind(kind)
        except ValueError:
            names = ", ".join(k.value for k in ExportKind)
            raise BadExport(f"There is no export called {kind!r}; try {names}.") from None
        first, first_text = _day(typed["from"], "from")
        last, last_text = _day(typed["to"], "to")
        if first is not None and last is not None and first > last:
            raise BadExport(
                f"The “from” day ({first_text}) is after the “to” day ({last_text}): swap them."
            )
        if typed["bom"] not in ("", "0", "1"):
            raise BadExport("bom is 1 (add a byte order mark for spreadsheets) or 0.")
    except BadExport as problem:
        page = render_template(
            "pages/exports/index.html", kinds=list(ExportKind), typed=typed, problem=str(problem)
        )
        return page, 400
    export = Export(what, days_span(first, last, viewer_time_zone().zone))
    exports.record_export(
        export, by=current_user.email, user_id=current_user.id, first=first_text, last=last_text
    )
    body = exports.streamed(export, bom=typed["bom"] == "1")
    filename = export.filename(first_text, last_text)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )
