"""What new payments ask of the card: the shop's setting (admin), one order's override
(staff, before its payment starts), and the exact `payment_method_options.card` sent on a
PaymentIntent and on a Checkout Session."""

from __future__ import annotations

import pytest

from dashboard.models import Role
from tests.support.database import reload
from tests.support.web import pay_link, post_form

SHOP = {
    "request_extended_authorization": "never",
    "request_incremental_authorization": "if_available",
    "request_multicapture": "if_available",
    "request_overcapture": "never",
}


def card_options(form: dict[str, list[str]]) -> dict[str, str]:
    prefix = "payment_method_options[card]["
    return {key[len(prefix) : -1]: v[0] for key, v in form.items() if key.startswith(prefix)}


def click_pay(app, order_id: int, method: str) -> None:
    response = post_form(app.test_client(), f"{pay_link(app, order_id)}/{method}")
    assert response.status_code == 303


@pytest.fixture
def admin(signed_in):
    return signed_in(Role.ADMIN, quick_hash=True)


@pytest.fixture
def staff(signed_in):
    return signed_in(Role.STAFF, quick_hash=True)


def test_nothing_is_asked_while_every_flag_is_never(live_app, stripe_http, make_order):
    """Stripe's default is `never`: a payment is asked for exactly as before."""
    order = make_order()
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    click_pay(live_app, order.id, "card")
    (create,) = stripe_http.calls_to("POST", "/v1/payment_intents")
    assert card_options(create.form) == {}


def test_the_shops_setting_goes_on_every_new_payment_intent(
    live_app, stripe_http, admin, make_order
):
    saved = post_form(admin, "/admin/card-requests", SHOP)
    assert saved.status_code == 303
    shown = admin.get("/admin/users").get_data(as_text=True)
    assert 'id="card-requests"' in shown
    order = make_order()
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    click_pay(live_app, order.id, "card")
    (create,) = stripe_http.calls_to("POST", "/v1/payment_intents")
    assert card_options(create.form) == SHOP


def test_checkout_sessions_ask_the_same_under_their_own_options(
    live_app, stripe_http, admin, make_order
):
    post_form(admin, "/admin/card-requests", SHOP)
    order = make_order()
    click_pay(live_app, order.id, "checkout")
    (create,) = stripe_http.calls_to("POST", "/v1/checkout/sessions")
    assert card_options(create.form) == SHOP


def test_staff_override_one_order_before_its_payment_starts(
    live_app, stripe_http, admin, staff, make_order
):
    post_form(admin, "/admin/card-requests", SHOP)
    order = make_order()
    page = staff.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'id="card-requests-form"' in page
    saved = post_form(
        staff,
        f"/orders/{order.id}/card-requests",
        {"request_multicapture": "never", "request_overcapture": "if_available"},
    )
    assert saved.status_code == 303
    assert reload(live_app, order.id).card_requests == {
        "request_multicapture": "never",
        "request_overcapture": "if_available",
    }
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    click_pay(live_app, order.id, "card")
    (create,) = stripe_http.calls_to("POST", "/v1/payment_intents")
    assert card_options(create.form) == {
        **SHOP,
        "request_multicapture": "never",
        "request_overcapture": "if_available",
    }


def test_the_override_is_locked_once_the_payment_started(live_app, stripe_http, staff, make_order):
    order = make_order(state="authorized", stripe_payment_intent_id="pi_test_hold")
    assert 'id="card-requests-form"' not in staff.get(f"/orders/{order.id}").get_data(as_text=True)
    post_form(staff, f"/orders/{order.id}/card-requests", {"request_multicapture": "never"})
    assert reload(live_app, order.id).card_requests is None


@pytest.mark.parametrize("value", ["always", "if_available'><script>", ""])
def test_the_shop_setting_takes_only_stripes_two_values(live_app, admin, value):
    refused = post_form(admin, "/admin/card-requests", {**SHOP, "request_multicapture": value})
    assert refused.status_code == 422


def test_support_cannot_change_the_shops_setting(live_app, signed_in):
    support = signed_in(Role.SUPPORT, quick_hash=True)
    assert post_form(support, "/admin/card-requests", SHOP).status_code == 403
