"""Many people at once: browsers talking real HTTP to a served app (tests/support/app.py
`serve`), and actions started together in threads released by one barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from tests.support.web import PASSWORD, csrf_token_in

T = TypeVar("T")


class Browser:
    """One browser: its own cookies, and the CSRF token of the last page it read."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.token = ""

    def get(self, path: str) -> requests.Response:
        response = self.http.get(self.base + path, timeout=30)
        if "csrf-token" in response.text:
            self.token = csrf_token_in(response.text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None) -> requests.Response:
        """A form posted with the token of the page read last; redirects are not followed."""
        return self.http.post(
            self.base + path,
            data={**(data or {}), "csrf_token": self.token},
            allow_redirects=False,
            timeout=60,
        )

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})

    def close(self) -> None:
        self.http.close()


def signed_in_browser(base: str, email: str, password: str = PASSWORD) -> Browser:
    browser = Browser(base)
    answer = browser.sign_in(email, password)
    assert answer.status_code == 302, answer.text
    return browser


def all_at_once(actions: list[Callable[[], T]]) -> list[T]:
    """Run each action in its own thread, all released together; their results in order.
    An action that raised fails the test with its exception."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], T]) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = action()
        except Exception as error:  # reported below, not lost in the thread
            results[index] = error

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an action hung"
    errors = [result for result in results if isinstance(result, Exception)]
    assert not errors, errors
    return results
