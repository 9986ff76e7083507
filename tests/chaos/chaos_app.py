"""The dashboard as gunicorn serves it (`create_app()`), plus faults asked for per request.

`gunicorn --config gunicorn.conf.py tests.chaos.chaos_app:app`, and the same module for
`flask --app tests.chaos.chaos_app stripe sweep-holds`. Production code knows nothing of
this: the faults hook SQLAlchemy's `before_commit` session event and wrap the WSGI app
from outside. A request carrying the header `X-Chaos: <fault>@<n>` gets, on the n-th
commit of that request (a webhook delivery commits twice: 1 = the event stored in the
inbox, 2 = its processing):

- `kill@n`: the worker process is SIGKILLed before that commit (gunicorn starts another);
  every other request that worker held dies with it.
- `drop-db@n`: the database connection is terminated (`pg_terminate_backend` of its own
  backend) before that commit, so the commit fails as on a dropped connection; the
  request ends in a 500.
- `slow`: the request is handled normally, then the answer is held back
  `CHAOS_SLOW_SECONDS` (3 s), longer than the sender waits.

Stripe is reached, if at all (only the sweep asks it anything), through the real
`StripeGateway` pointed at `CHAOS_STRIPE_API` (tests/chaos/stripe_api.py) with
`compat=None`. Not through STRIPE_API_BASE: a loopback STRIPE_API_BASE turns on the
localstripe mending (dashboard/payments/gateway.py `is_sandbox`), which recomputes a
captured charge's `amount_captured`/`amount_refunded` from its `refunds.data` list. Stripe's
own charges list no refunds there by default, so the mending would report a partly
refunded payment as not refunded: harmless for localstripe, wrong for Stripe's shapes. The
gateway slot in `app.extensions` is the seam the app offers tests for their own gateway.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from dashboard import create_app
from dashboard.payments.gateway import EXTENSION
from dashboard.payments.stripe_gateway import StripeGateway

HEADER = "X-Chaos"
SLOW_SECONDS = float(os.environ.get("CHAOS_SLOW_SECONDS", "3"))

app = create_app()
if os.environ.get("CHAOS_STRIPE_API"):
    app.extensions[EXTENSION] = StripeGateway(
        secret_key=app.config["STRIPE_SECRET_KEY"],
        api_base=os.environ["CHAOS_STRIPE_API"],
        max_network_retries=0,
    )


def _fault() -> tuple[str, int]:
    kind, _, at = request.headers.get(HEADER, "").partition("@")
    return kind, int(at) if at.isdigit() else 0


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if not has_request_context():
        return
    kind, at = _fault()
    if kind not in ("kill", "drop-db"):
        return
    g.chaos_commits = g.get("chaos_commits", 0) + 1
    if g.chaos_commits != at:
        return
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


class SlowAnswers:
    """Hold the answer of a `slow` request back, after the request was fully handled."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = self.wsgi_app(environ, start_response)
        if environ.get("HTTP_X_CHAOS") == "slow":
            time.sleep(SLOW_SECONDS)
        return body


app.wsgi_app = SlowAnswers(app.wsgi_app)  # type: ignore[method-assign]
