"""Apple Pay's domain association file, served from the path APPLE_PAY_DOMAIN_FILE names
(404 when none is configured or it cannot be read): Apple reads it to verify the domain."""

from __future__ import annotations

from flask import Blueprint, abort, current_app
from flask.typing import ResponseReturnValue

from dashboard.views.access import public

bp = Blueprint("wallets", __name__)
MAX_FILE_BYTES = 64 * 1024


@bp.route("/.well-known/apple-developer-merchantid-domain-association")
@public
def apple_domain_association() -> ResponseReturnValue:
    path = str(current_app.config.get("APPLE_PAY_DOMAIN_FILE") or "")
    if not path:
        abort(404)
    try:
        with open(path, "rb") as association:
            body = association.read(MAX_FILE_BYTES + 1)
    except OSError:
        current_app.logger.warning("APPLE_PAY_DOMAIN_FILE cannot be read")
        abort(404)
    if len(body) > MAX_FILE_BYTES:
        abort(404)
    return body, 200, {"Content-Type": "text/plain", "Cache-Control": "public, max-age=3600"}
