"""What gunicorn itself does with a request, on a real gunicorn configured by the project's
gunicorn.conf.py: its access log never holds a pay link's token, and a `SCRIPT_NAME` header
from a client (gunicorn maps it into the WSGI environ from trusted addresses, loopback by
default) never moves a redirect or a form action off the site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gunicorn import Served, gunicorn
from tests.support.web import pay_link

ACTION_OR_LINK = re.compile(r'(?:action|href|src)="([^"]*)"')


@pytest.fixture
def server(app, database_url: str, tmp_path: Path) -> Iterator[Served]:
    """gunicorn on the test's database; stopped before the app fixture empties it."""
    with gunicorn(database_url, tmp_path / "instance", tmp_path / "gunicorn.log") as served:
        yield served


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


def links_in(body: str) -> list[str]:
    return ACTION_OR_LINK.findall(body)


def assert_stays_on_the_site(status: int, headers: dict[str, str], body: str, where: str):
    assert status < 500, f"{where}: {status}"
    location = headers.get("Location", "")
    assert not location.startswith("//") and "evil.example" not in location, where
    for url in links_in(body):
        assert "evil.example" not in url and not url.startswith("//"), f"{where}: {url}"


@pytest.mark.parametrize("header", ["SCRIPT_NAME", "script_name"])
def test_a_script_name_header_never_moves_redirects_or_forms_off_the_site(
    app, server, make_order, header
):
    """Issue 12, item 16: a client's `SCRIPT_NAME: //evil.example` rewrote them."""
    order = make_order()
    link = pay_link(app, order.id)
    evil = {header: "//evil.example"}
    for path in ("//evil.example/orders", f"//evil.example{link}", "/orders", "/login", link):
        status, headers, body = server.request("GET", path, evil)
        assert_stays_on_the_site(status, headers, body, f"GET {path}")
    # Where the path is the site's own, the page is the one asked for, with its own forms.
    status, _, body = server.request("GET", link, evil)
    assert status == 200
    assert f'action="{link}/checkout"' in body
    status, headers, _ = server.request("GET", "/orders", evil)
    assert (status, headers["Location"]) == (302, "/login?next=%2Forders")
