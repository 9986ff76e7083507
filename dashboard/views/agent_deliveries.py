"""Admin: order events sent to agents, and what became of each."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from dashboard.models import utcnow
from dashboard.services import agent_deliveries
from dashboard.views.access import ADMINS, roles_required
from dashboard.views.forms import BadListQuery, cursor_arg

bp = Blueprint("agent_deliveries", __name__, url_prefix="/admin")


@bp.route("/agent-deliveries")
@roles_required(*ADMINS)
def index() -> ResponseReturnValue:
    """Order events to agents, newest first: status, attempts, next try, last answer."""
    try:
        page = agent_deliveries.deliveries(
            older_than=cursor_arg("older_than"), newer_than=cursor_arg("newer_than")
        )
    except BadListQuery as invalid:
        return render_template(
            "pages/admin/agent_deliveries.html", page=None, problem=str(invalid), now=utcnow()
        ), 400
    return render_template(
        "pages/admin/agent_deliveries.html", page=page, problem=None, now=utcnow()
    )
