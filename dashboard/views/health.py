"""Health check for load balancers and monitors."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.extensions import db
from dashboard.views.access import public

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    """200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unavailable", exc_info=True)
        db.session.rollback()
        return jsonify(status="unavailable", database="unavailable"), 503
    return jsonify(status="ok", database="ok")
