"""What the app takes from the WSGI environ a server built from a client's request.

Two things a client could otherwise steer: `SCRIPT_NAME` (gunicorn takes it from a request
header when the peer is in `forwarded_allow_ips`, and every redirect and form action is
built on it: `//evil.example/login`), and a query string that is not UTF-8 (werkzeug
cannot decode it and the request ends in a 500). The dashboard is served at the root of
its host, whatever any server or client says, and undecodable bytes stay in the query as
the percent escapes a browser would have sent, so a search shows them instead of failing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


def percent_escape_invalid_utf8(query: str) -> str:
    """The query string (WSGI's latin-1 text of its bytes) with every byte that is not part
    of valid UTF-8 written as `%XX`; valid text is left exactly as it came."""
    raw = query.encode("latin-1", errors="replace")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="surrogateescape")
        # surrogateescape maps each undecodable byte b to U+DC00 + b (b is 0x80-0xFF).
        escaped = "".join(
            f"%{ord(char) - 0xDC00:02X}" if "\udc80" <= char <= "\udcff" else char for char in text
        )
        return escaped.encode("utf-8").decode("latin-1")
    return query


def guard(environ: WSGIEnvironment) -> None:
    """Put the app at the root of its host, and make the query string decodable (in place)."""
    script_name = environ.get("SCRIPT_NAME", "")
    if script_name:
        # The path the client asked for, whole: a server that split a prefix off it (taken
        # from a header) had it from no one the app trusts.
        environ["PATH_INFO"] = script_name + environ.get("PATH_INFO", "")
        environ["SCRIPT_NAME"] = ""
    query = environ.get("QUERY_STRING", "")
    if query:
        environ["QUERY_STRING"] = percent_escape_invalid_utf8(query)
