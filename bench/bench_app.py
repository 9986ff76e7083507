"""The dashboard plus two bench-only routes; served by gunicorn in the benchmarks only.

    gunicorn -c gunicorn.conf.py bench.bench_app:app

`POST /bench/bare` answers 204 and does nothing: the stack's ceiling (gunicorn, Flask, the
request hooks). `POST /bench/naive` is the webhook handler most tutorials show: verify the
signature, parse, one ORM insert, commit. Neither is ever registered by `create_app`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import stripe
from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue

from dashboard import collector, create_app
from dashboard.extensions import csrf, db
from dashboard.models import StripeEvent
from dashboard.views.access import public

bp = Blueprint("bench", __name__)
csrf.exempt(bp)


@bp.post("/bench/bare")
@public
def bare() -> ResponseReturnValue:
    """Nothing at all: what the server, Flask and the request hooks cost."""
    return "", 204


@bp.post("/bench/naive")
@public
def naive() -> ResponseReturnValue:
    """Verify, parse, one insert: no dedupe, no reconciliation, no timeline."""
    text = request.get_data(as_text=True)
    header = request.headers.get("Stripe-Signature", "")
    for secret in current_app.config["STRIPE_WEBHOOK_SECRETS"]:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, 300)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        return "bad signature", 400
    event = json.loads(text)
    db.session.add(
        StripeEvent(
            event_id=event["id"],
            type=event["type"],
            livemode=bool(event.get("livemode")),
            created=datetime.fromtimestamp(event["created"], UTC),
            payload=event,
            source="naive",
            # Kept as done, so the dashboard's applier (which applies stored, pending
            # events) leaves these rows alone: the naive handler applies nothing.
            status="ignored",
        )
    )
    db.session.commit()
    return "ok", 200


app = create_app()
app.register_blueprint(bp)
collector.settle()
