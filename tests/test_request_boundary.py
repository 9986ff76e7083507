"""The request boundary (dashboard/web.py, dashboard/transactions.py): a request's writes
are kept when its view returned, whatever status it answers, and dropped when an exception
escaped it. Each case is a route only the test's app has, writing an order through the real
service before it ends the way the case says."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, abort
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from dashboard.domain.orders import LineDraft
from dashboard.extensions import db
from dashboard.models import Order, Role
from dashboard.services import orders
from dashboard.views.access import READERS, roles_required


def _write_an_order(buyer_email: str) -> None:
    orders.create_order(
        actor=None,
        buyer_name="Boundary",
        buyer_email=buyer_email,
        currency="USD",
        lines=[LineDraft("Widget", 1, 500)],
    )


def _answer_409() -> ResponseReturnValue:
    _write_an_order("answered-409@example.com")
    return "refused, but what was written before stays", 409


def _raise() -> ResponseReturnValue:
    _write_an_order("raised@example.com")
    raise RuntimeError("the view failed after writing")


def _abort_404() -> ResponseReturnValue:
    _write_an_order("aborted@example.com")
    abort(404)


CASES: dict[str, tuple[Callable[[], ResponseReturnValue], int, bool]] = {
    "answered-409": (_answer_409, 409, True),
    "raised": (_raise, 500, False),
    "aborted": (_abort_404, 404, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_writes_are_kept_only_when_the_view_returned(app: Flask, signed_in, case):
    view, status, kept = CASES[case]
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a raised view is a 500 page
    # Routes can only be added before the app's first request (the sign-in below).
    app.add_url_rule(
        f"/test-only/{case}", endpoint=f"test_only.{case}", view_func=roles_required(*READERS)(view)
    )
    client = signed_in(Role.SUPPORT, quick_hash=True)
    assert client.get(f"/test-only/{case}").status_code == status
    with app.app_context():
        stored = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.buyer_name == "Boundary")
        )
    assert stored == (1 if kept else 0)
