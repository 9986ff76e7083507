"""What gunicorn itself does with a request, on a real gunicorn configured by the project's
gunicorn.conf.py: its access log never holds a pay link's token."""

from __future__ import annotations

from tests.support.gunicorn import gunicorn
from tests.support.web import pay_link


def test_the_access_log_writes_pay_links_without_their_token(
    app, database_url, tmp_path, make_order
):
    """Issue 12, item 15: 270 lines of one run carried a pay link's token."""
    order = make_order()
    link = pay_link(app, order.id)
    token = link.removeprefix("/pay/")
    log_file = tmp_path / "gunicorn.log"
    with gunicorn(database_url, tmp_path / "instance", log_file) as server:
        page = f"{server.url}{link}"
        answers = [
            server.request("GET", link),
            server.request("GET", f"{link}/done?session_id=cs_test_1"),
            server.request("POST", f"{link}/sandbox-card", {"Referer": page}, "card=success"),
            server.request("GET", f"{link}/no-such-page"),
            # A pay page's own form, which sends the page (and its token) as the Referer.
            server.request("POST", f"{link}/checkout", {"Referer": page}, "csrf_token=forged"),
        ]
    assert [status for status, _, _ in answers] == [200, 200, 400, 404, 400]

    # Read once gunicorn has stopped: a worker's thread logs after it has answered.
    log = log_file.read_text()
    assert token not in log
    assert token.split(".")[0] not in log  # not even its first part
    requests = [line for line in log.splitlines() if '"GET /pay/' in line or '"POST /pay/' in line]
    assert len(requests) == 5, log
    assert all("/pay/<redacted>" in line for line in requests), requests
    assert f'"{server.url}/pay/<redacted>"' in log  # the Referer, redacted too
