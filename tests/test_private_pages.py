"""What a signed-in person or a pay link's holder sees is kept nowhere else: every answer to
a signed-in user and every /pay/ answer says `Cache-Control: no-store` (a shared computer's
back button, a proxy's cache), and the app's own logs name a pay page without its token.
Routes come from the URL map (tests/support/routes.py), so a new one is covered here."""

from __future__ import annotations

import logging

import pytest

from dashboard.models import Role
from tests.support.app import add_failing_route
from tests.support.routes import route_paths
from tests.support.web import csrf_token, login, pay_link

FORMS = {"role": "support", "amount": "1.00", "method": "payment_page", "card": "success"}


def assert_not_stored(response, where):
    assert response.headers.get("Cache-Control") == "no-store", where


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.STAFF, Role.ADMIN], ids=str)
def test_every_answer_to_a_signed_in_user_is_no_store(app, make_order, make_user, role):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    _, _, routes = route_paths(app, make_order, make_user)
    make_user(role, email=f"{role.value}-cache@shop.example")
    client = app.test_client()
    assert login(client, f"{role.value}-cache@shop.example").status_code == 302
    token = csrf_token(client)
    seen = 0
    for endpoint, method, path in routes:
        if endpoint in (
            "static",
            "auth.logout",
            "auth.sign_out_everywhere",
            "webhooks.stripe_webhook",
        ):
            continue  # the same file for all; these two sign out; Stripe's, never a person's
        data = None if method == "GET" else {**FORMS, "csrf_token": token}
        response = client.open(path, method=method, data=data)
        assert_not_stored(response, f"{role} {method} {path}: {response.status_code}")
        seen += 1
    for path in ("/no-such-page", "/orders/424242", "/admin/users", "/orders?state=bogus"):
        assert_not_stored(client.get(path), f"{role} GET {path}")  # error pages too
    assert seen >= 20
    static = client.get("/static/app.css")
    assert static.headers.get("Cache-Control") != "no-store"  # nothing private in it
    static.close()


def test_every_pay_page_is_no_store_for_anyone(app, make_order, make_user):
    _, _, routes = route_paths(app, make_order, make_user)
    pay_routes = [(m, p) for e, m, p in routes if e.startswith("pay.")]
    assert len(pay_routes) >= 6
    buyer = app.test_client()
    token = csrf_token(buyer)
    for method, path in pay_routes:
        data = None if method == "GET" else {**FORMS, "csrf_token": token}
        assert_not_stored(buyer.open(path, method=method, data=data), f"{method} {path}")
    for path in ("/pay/not-a-token", "/pay/x/no-such-page"):
        assert_not_stored(buyer.get(path), path)


def test_an_exception_on_a_pay_page_is_logged_without_the_token(app, signed_in, make_order, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    link = pay_link(app, make_order().id)
    failing = add_failing_route(app, RuntimeError("boom"), f"{link}/fails")
    client = signed_in(Role.STAFF, quick_hash=True)  # the failing route wants a reader
    with caplog.at_level(logging.ERROR):
        assert client.get(failing).status_code == 500
    (record,) = [r for r in caplog.records if r.getMessage().startswith("Exception on")]
    assert record.getMessage() == "Exception on /pay/<redacted>/fails [GET]"


@pytest.mark.parametrize("path", ["/logout", "/account/sign-out-everywhere"])
def test_the_answer_that_signs_someone_out_is_no_store_too(app, make_user, path):
    """It was asked by a signed-in person, though it answers a signed-out one."""
    make_user(Role.STAFF, email="leaving@shop.example")
    client = app.test_client()
    assert login(client, "leaving@shop.example").status_code == 302
    response = client.post(path, data={"csrf_token": csrf_token(client)})
    assert response.status_code in (302, 303)
    assert_not_stored(response, path)
