"""gunicorn's access log without pay-link tokens (gunicorn.conf.py names this logger).

A token opens its order's pay page for as long as the link lives; the access log is read
and shipped by more people and systems than the order is. Every value a log line can show
(the request line, the path, the Referer a pay page's own forms send, any header or environ
variable a custom `access_log_format` names) has its `/pay/<token>` written as
`/pay/<redacted>`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from dashboard.services.pay_links import redact_pay_links


class RedactingAccessLogger(Logger):
    """gunicorn's own logger, with the access log's atoms redacted before formatting."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> Any:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {
            name: redact_pay_links(value) if isinstance(value, str) else value
            for name, value in atoms.items()
        }
