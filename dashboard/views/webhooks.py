"""`POST /webhooks/stripe`: the URL given to Stripe (and to `stripe listen --forward-to`).

Verified on the raw bytes before anything is parsed; stored before Stripe is answered.
The status code is Stripe's retry signal: 2xx once the event is durably stored (new, it
is then `pending` and applied right after by the worker's applier,
`services/inbox/applier.py`; or a duplicate), 5xx when it could not be stored (Stripe
retries), 4xx for what no retry can fix (a bad signature, a body too large).
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from dashboard.config import ConfigError
from dashboard.extensions import csrf
from dashboard.models import EventStatus
from dashboard.payments.webhooks import WebhookRejected, verify_event
from dashboard.services.inbox import store
from dashboard.services.inbox.applier import BackgroundApplier
from dashboard.services.inbox.group_commit import GroupCommit
from dashboard.views.access import public
from dashboard.web import takes_large_bodies

bp = Blueprint("webhooks", __name__)
# Stripe cannot send our CSRF token; the signature is what authenticates it.
csrf.exempt(bp)

GROUP_COMMIT = "webhook_group_commit"
APPLIER = "webhook_applier"


def init_app(app: Flask) -> None:
    limit = app.config["WEBHOOK_GROUP_LIMIT"]
    if limit < 1:
        raise ConfigError(f"WEBHOOK_GROUP_LIMIT must be at least 1, not {limit}.")
    app.extensions[GROUP_COMMIT] = GroupCommit(limit=limit)
    if app.config["WEBHOOK_APPLY_IN_BACKGROUND"]:
        app.extensions[APPLIER] = BackgroundApplier(app, page_size=app.config["WEBHOOK_APPLY_PAGE"])


def _body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise WebhookRejected("too_large", f"The body is larger than {limit} bytes.", 413)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise WebhookRejected("too_large", f"The body is larger than {limit} bytes.", 413)
    return body


@bp.post("/webhooks/stripe")
@public
@takes_large_bodies  # bounded by WEBHOOK_MAX_BYTES below, with Stripe's answer
def stripe_webhook() -> ResponseReturnValue:
    config = current_app.config
    try:
        body = _body(config["WEBHOOK_MAX_BYTES"])
        event = verify_event(
            body,
            request.headers.get("Stripe-Signature"),
            config["STRIPE_WEBHOOK_SECRETS"],
        )
    except WebhookRejected as rejected:
        store.reject(rejected.reason, request.remote_addr)
        return jsonify(error=rejected.message, reason=rejected.reason), rejected.status
    # Answered after the commit of the page this delivery joined (often a page of one);
    # applied after the answer, by this worker's applier.
    receipt = current_app.extensions[GROUP_COMMIT].receive(event)
    applier = current_app.extensions.get(APPLIER)
    if applier is not None and receipt.status == EventStatus.PENDING.value:
        applier.wake()
    answer = {
        "id": receipt.event_id,
        "status": receipt.status,
        "deliveries": receipt.delivery_count,
    }
    return jsonify(answer), 200
