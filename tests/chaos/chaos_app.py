"""The dashboard as gunicorn serves it (`create_app()`), plus faults asked for per request.

`gunicorn --config gunicorn.conf.py tests.chaos.chaos_app:app`, and the same module for
`flask --app tests.chaos.chaos_app stripe sweep-holds`. Production code knows nothing of
this: the faults hook SQLAlchemy's `before_commit` session event and wrap the WSGI app
from outside. A request carrying the header `X-Chaos: <fault>` arms its fault while it is
in flight; the next commit the worker makes, in any of its threads, fires it. A delivery
is committed with the page it joined (dashboard/services/group_commit.py), often by
another request's thread, so that commit is the one holding this delivery or one before
it; either way every request the page holds shares the fault:

- `kill`: the worker process is SIGKILLed before that commit (gunicorn starts another);
  every request that worker held dies with it.
- `drop-db`: the committing session's database connection is terminated
  (`pg_terminate_backend` of its own backend) before that commit, so the commit fails as
  on a dropped connection; every delivery of that page is answered 500.
- `slow`: the request is handled normally, then the answer is held back
  `CHAOS_SLOW_SECONDS` (3 s), longer than the sender waits.

A fault still armed when its request ends (its page was committed by a commit that
another request's fault had already claimed) is dropped.

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
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from dashboard import create_app
from dashboard.payments.gateway import EXTENSION
from dashboard.payments.stripe_gateway import StripeGateway

SLOW_SECONDS = float(os.environ.get("CHAOS_SLOW_SECONDS", "3"))

app = create_app()
if os.environ.get("CHAOS_STRIPE_API"):
    app.extensions[EXTENSION] = StripeGateway(
        secret_key=app.config["STRIPE_SECRET_KEY"],
        api_base=os.environ["CHAOS_STRIPE_API"],
        max_network_retries=0,
    )


@dataclass
class _Armed:
    kind: str


_armed: list[_Armed] = []
_armed_lock = threading.Lock()


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's end, not a commit
        return
    with _armed_lock:
        fault = _armed.pop(0) if _armed else None
    if fault is None:
        return
    if fault.kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


class Faults:
    """Arm a request's `kill` or `drop-db` while it is in flight; hold a `slow` one's
    answer back after the request was fully handled."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        kind = environ.get("HTTP_X_CHAOS", "").partition("@")[0]
        armed = _Armed(kind) if kind in ("kill", "drop-db") else None
        if armed is not None:
            with _armed_lock:
                _armed.append(armed)
        try:
            body = self.wsgi_app(environ, start_response)
        finally:
            if armed is not None:
                with _armed_lock:
                    if armed in _armed:
                        _armed.remove(armed)
        if kind == "slow":
            time.sleep(SLOW_SECONDS)
        return body


app.wsgi_app = Faults(app.wsgi_app)  # type: ignore[method-assign]
