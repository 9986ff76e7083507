"""A loopback "Stripe API" that answers with each object's final state, for the sweep.

A test double at the HTTP boundary, used only because localstripe cannot serve these
histories: it has no disputes, no Checkout Sessions (so no expired checkout), no
`amount_capturable`/`amount_received`, and no way to replay a history whose events we
author. The double answers `GET /v1/payment_intents/<id>` (with `latest_charge` expanded,
as the gateway asks) and `GET /v1/checkout/sessions/<id>` with the Stripe-shaped objects
the history generator says Stripe holds at the end, and the release of a replaced hold
(`POST /v1/payment_intents/<id>/cancel`) as Stripe answers it for that state; anything else
is a 404 in Stripe's error shape, and counted, so a request the suite did not expect is
seen.

The dashboard reaches it through its real `StripeGateway` and the real stripe SDK, with
`compat=None`: see tests/chaos/chaos_app.py for why it is not reached through
STRIPE_API_BASE (that would turn on the localstripe mending, which is wrong for Stripe's
own shapes).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUTES = {"/v1/payment_intents/": "payment_intent", "/v1/checkout/sessions/": "checkout.session"}


class StripeObjects:
    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        self.reads: Counter[str] = Counter()
        self.unknown: list[str] = []
        self.lock = threading.Lock()

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        for prefix, kind in ROUTES.items():
            if path.startswith(prefix):
                found = self.objects.get(path.removeprefix(prefix))
                if found is not None and found.get("object") == kind:
                    with self.lock:
                        self.reads[kind] += 1
                    return 200, found
        with self.lock:
            self.unknown.append(path)
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such object: {path}",
            }
        }

    def cancel(self, path: str) -> tuple[int, dict[str, Any]]:
        """`POST /v1/payment_intents/<id>/cancel`: an open hold is canceled; one that already
        ended (a lapsed hold) is Stripe's 400 for a PaymentIntent in that state."""
        prefix = "/v1/payment_intents/"
        if path.startswith(prefix) and path.endswith("/cancel"):
            found = self.objects.get(path.removeprefix(prefix).removesuffix("/cancel"))
            if found is not None:
                with self.lock:
                    self.reads["payment_intent.cancel"] += 1
                if found.get("status") in ("canceled", "succeeded"):
                    return 400, {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "payment_intent_unexpected_state",
                            "message": "You cannot cancel this PaymentIntent because it has "
                            f"a status of {found['status']}.",
                        }
                    }
                return 200, {**found, "status": "canceled", "cancellation_reason": "duplicate"}
        with self.lock:
            self.unknown.append(f"POST {path}")
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such object: {path}",
            }
        }


@contextmanager
def serve_stripe(objects: dict[str, dict[str, Any]]) -> Iterator[tuple[str, StripeObjects]]:
    """The double on a free port of 127.0.0.1 until the block ends."""
    store = StripeObjects(objects)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(*store.answer(self.path.split("?", 1)[0]))

        def do_POST(self) -> None:
            # The one write in these histories: the release of a hold a new one replaced
            # (re-authorizing), answered as Stripe answers it for the object's final state.
            self._reply(*store.cancel(self.path.split("?", 1)[0]))

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_chaos")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="chaos-stripe", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", store
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
