"""The sandbox's mail page: the emails the dashboard sent, as the sandbox's SMTP server
received them. There only while the sandbox is on (localstripe with a test key); a 404
anywhere else, so no production dashboard ever shows one."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from dashboard.payments.gateway import is_sandbox
from dashboard.services import sandbox_mail
from dashboard.views.access import READERS, roles_required

bp = Blueprint("sandbox_mail", __name__)


@bp.app_context_processor
def sandbox_mail_link() -> dict[str, bool]:
    """Whether the menu links to this page."""
    return {"sandbox_mail_on": is_sandbox(current_app.config)}


@bp.route("/sandbox/mail")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """Sandbox only: the emails its SMTP server received, newest first."""
    if not is_sandbox(current_app.config):
        abort(404)
    emails = sandbox_mail.received(Path(current_app.instance_path))
    return render_template("pages/sandbox/mail.html", emails=emails)
