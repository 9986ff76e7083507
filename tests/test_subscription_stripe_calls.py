"""What the dashboard sends Stripe for subscriptions, where localstripe cannot answer
(prices, Checkout in subscription mode, the billing portal): the exact parameters, read at
the SDK's HTTP boundary (the Stripe double). And the hostile inputs: a price of 0 or beyond
Stripe's limit, an interval Stripe refuses, a withdrawn plan, tampered links."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Plan, Role, Subscription, SubscriptionRequest
from dashboard.services.subscriptions import links, records
from tests.support.subscriptions import SubscriptionStripeHTTP, subscribe_token, subscription_object
from tests.support.web import post_form

PLAN = {"name": "Gold box", "price": "25.00", "currency": "EUR", "interval": "month"}


@pytest.fixture
def stripe_http():
    """The Stripe double live_app talks to; this one knows subscriptions too."""
    double = SubscriptionStripeHTTP()
    yield double
    assert not double.unrouted, f"requests the double does not know: {double.unrouted}"


@pytest.fixture
def staff(live_app, signed_in):
    return signed_in(Role.STAFF)


def form_of(call) -> dict[str, str]:
    return {key: values[-1] for key, values in call.form.items()}


def plans(app) -> list[Plan]:
    with app.app_context():
        found = list(db.session.scalars(select(Plan)))
        for plan in found:
            db.session.expunge(plan)
        return found


def test_a_plan_is_a_product_and_a_recurring_price(live_app, stripe_http, staff):
    answer = post_form(staff, "/plans", {**PLAN, "interval_count": "3"})
    assert answer.status_code == 303
    product, price = stripe_http.calls
    assert (product.method, product.path, form_of(product)) == (
        "POST",
        "/v1/products",
        {"name": "Gold box"},
    )
    assert (price.method, price.path) == ("POST", "/v1/prices")
    (plan,) = plans(live_app)
    assert form_of(price) == {
        "product": plan.stripe_product_id,
        "unit_amount": "2500",
        "currency": "eur",
        "recurring[interval]": "month",
        "recurring[interval_count]": "3",
    }
    assert product.headers["Idempotency-Key"].endswith("-product")
    assert price.headers["Idempotency-Key"].endswith("-price")
    assert plan.stripe_price_id.startswith("price_test_")


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"price": "0"}, "more than zero"),
        ({"price": "0.00"}, "more than zero"),
        ({"price": "1000000.00"}, "largest Stripe accepts"),  # 8 digits: 999,999.99
        ({"price": "-5"}, ""),
        ({"price": "1.005"}, ""),
        ({"interval_count": "13"}, "every 1 to 12 months"),
        ({"interval": "year", "interval_count": "2"}, "every 1 year"),
        ({"interval_count": "0"}, "every 1 to 12 months"),
        ({"interval_count": "one"}, "whole number"),
        ({"interval": "week"}, ""),
        ({"currency": "XYZ"}, ""),
        ({"name": "   "}, ""),
        ({"name": "a\u202eb"}, ""),
    ],
)
def test_a_plan_stripe_would_refuse_is_refused_before_stripe(
    live_app, stripe_http, staff, fields, said
):
    answer = post_form(staff, "/plans", {**PLAN, "interval_count": "1", **fields})
    assert answer.status_code == 422
    assert said in answer.get_data(as_text=True)
    assert stripe_http.calls == []
    assert plans(live_app) == []


def test_stripe_refusing_a_plan_keeps_nothing(live_app, stripe_http, staff):
    stripe_http.fail_next(
        "POST",
        "/v1/prices",
        400,
        {"type": "invalid_request_error", "message": "Invalid currency: eur.", "param": "currency"},
    )
    answer = post_form(staff, "/plans", {**PLAN, "interval_count": "1"})
    assert answer.status_code == 422
    assert plans(live_app) == []


def made_plan(app, stripe_http, staff) -> Plan:
    assert post_form(staff, "/plans", {**PLAN, "interval_count": "1"}).status_code == 303
    stripe_http.calls.clear()
    (plan,) = plans(app)
    return plan


def test_checkout_in_subscription_mode(live_app, stripe_http, staff):
    plan = made_plan(live_app, stripe_http, staff)
    token = subscribe_token(live_app, plan.id, "Ada@Shop.example", "Ada")
    buyer = live_app.test_client()
    page = buyer.get(f"/subscribe/{token}").get_data(as_text=True)
    assert "€25.00 every month" in page and "Subscribe with Stripe" in page
    answer = post_form(buyer, f"/subscribe/{token}/checkout")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_sub_")
    customer, session = stripe_http.calls
    assert (customer.path, form_of(customer)) == ("/v1/customers", {"email": "ada@shop.example"})
    base = live_app.config["PUBLIC_BASE_URL"]
    assert (session.path, form_of(session)) == (
        "/v1/checkout/sessions",
        {
            "mode": "subscription",
            "customer": form_of(session)["customer"],
            "line_items[0][price]": plan.stripe_price_id,
            "line_items[0][quantity]": "1",
            "metadata[plan_id]": str(plan.id),
            "subscription_data[metadata][plan_id]": str(plan.id),
            "success_url": f"{base}/subscribe/{token}/done?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{base}/subscribe/{token}",
        },
    )
    assert form_of(session)["customer"].startswith("cus_")
    assert session.headers["Idempotency-Key"].startswith(f"subscribe-{plan.id}-")


def back_from_checkout(app, stripe_http, staff, *, email="Ada@Shop.example"):
    """A buyer sent to Checkout: (their client, the link's token, the plan, the session)."""
    plan = made_plan(app, stripe_http, staff)
    token = subscribe_token(app, plan.id, email, "Ada")
    buyer = app.test_client()
    assert post_form(buyer, f"/subscribe/{token}/checkout").status_code == 303
    return buyer, token, plan, stripe_http.only_session()


def subscriptions_of(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(
                Subscription.stripe_subscription_id, Subscription.status, Subscription.buyer_email
            )
        )
        return [tuple(row) for row in rows]


def test_back_from_checkout_the_subscription_shows_at_once(live_app, stripe_http, staff):
    """Stripe's webhook may come seconds later: the page the buyer lands on re-reads the
    session, keeps what it made, and offers no second subscription."""
    buyer, token, plan, session = back_from_checkout(live_app, stripe_http, staff)
    made = subscription_object(
        "sub_live_9", customer=session["customer"], price=plan.stripe_price_id
    )
    stripe_http.complete_subscription(session["id"], made)
    before = len(stripe_http.calls)

    page = buyer.get(f"/subscribe/{token}/done?session_id={session['id']}")

    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "You are subscribed." in body and "Subscribe with Stripe" not in body
    (read,) = stripe_http.calls[before:]
    assert (read.method, read.path) == ("GET", f"/v1/checkout/sessions/{session['id']}")
    assert read.query == {"expand[0]": ["subscription"]}
    assert subscriptions_of(live_app) == [("sub_live_9", "active", "ada@shop.example")]
    # Landing again (a reload) keeps one subscription; so does its webhook afterwards.
    assert "You are subscribed." in buyer.get(page.request.full_path).get_data(as_text=True)
    assert subscriptions_of(live_app) == [("sub_live_9", "active", "ada@shop.example")]
    again = post_form(buyer, f"/subscribe/{token}/checkout")  # no second Checkout
    assert again.status_code == 200
    assert "You are already subscribed to this plan." in again.get_data(as_text=True)
    assert len(stripe_http.calls_to("POST", "/v1/checkout/sessions")) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"metadata": {"plan_id": "999"}},  # another plan's session
        {"customer": "cus_someone_else"},  # another buyer's
        {"mode": "payment"},
    ],
    ids=["another plan", "another buyer", "not a subscription"],
)
def test_a_session_that_is_not_this_links_changes_nothing(live_app, stripe_http, staff, change):
    buyer, token, plan, session = back_from_checkout(live_app, stripe_http, staff)
    made = subscription_object(
        "sub_live_7", customer=session["customer"], price=plan.stripe_price_id
    )
    stripe_http.complete_subscription(session["id"], made)
    stripe_http.sessions[session["id"]].update(change)

    body = buyer.get(f"/subscribe/{token}/done?session_id={session['id']}").get_data(as_text=True)

    assert "Your subscription will show here once Stripe confirms it." in body
    assert subscriptions_of(live_app) == []


@pytest.mark.parametrize(
    "session_id",
    ["", "<script>alert(1)</script>", "pi_123", "cs_" + "a" * 300, "cs_test_../../v1/charges"],
    ids=["none", "markup", "not a session", "too long", "a path"],
)
def test_a_session_id_that_is_not_one_is_not_sent_to_stripe(
    live_app, stripe_http, staff, session_id
):
    buyer, token, _, _ = back_from_checkout(live_app, stripe_http, staff)
    before = len(stripe_http.calls)

    page = buyer.get(f"/subscribe/{token}/done", query_string={"session_id": session_id})

    assert page.status_code == 200
    assert "Your subscription will show here once Stripe confirms it." in page.get_data(
        as_text=True
    )
    assert stripe_http.calls[before:] == []


def test_when_stripe_cannot_say_the_page_waits_for_its_webhook(live_app, stripe_http, staff):
    buyer, token, _, session = back_from_checkout(live_app, stripe_http, staff)
    stripe_http.fail_next(
        "GET", f"/v1/checkout/sessions/{session['id']}", 500, {"type": "api_error"}
    )

    page = buyer.get(f"/subscribe/{token}/done?session_id={session['id']}")

    assert page.status_code == 200
    assert "Your subscription will show here once Stripe confirms it." in page.get_data(
        as_text=True
    )
    assert subscriptions_of(live_app) == []


def subscribed(app, plan: Plan, stripe_http) -> Subscription:
    """Stripe reported the buyer's subscription (as after Checkout)."""
    raw = subscription_object("sub_live_1", customer="cus_live_1", price=plan.stripe_price_id)
    stripe_http.subscriptions["sub_live_1"] = raw
    with app.app_context():
        from dashboard.payments.subscription_snapshots import subscription_snapshot

        row, _ = records.apply_subscription(
            subscription_snapshot(raw),
            said_at=1,
            event_id="evt_setup",
            source="test",
            email="ada@shop.example",
        )
        db.session.commit()
        db.session.refresh(row)
        db.session.expunge(row)
        return row


def test_the_billing_portal_link(live_app, stripe_http, staff):
    sub = subscribed(live_app, made_plan(live_app, stripe_http, staff), stripe_http)
    sent = post_form(staff, f"/subscriptions/{sub.id}/portal-link")
    assert sent.status_code == 200
    assert stripe_http.calls == []  # the email holds our link; the portal opens on a click
    # The link is signed with the second it was made in, so it is read from the page and
    # decoded rather than signed again here (a second can tick between the two).
    base = live_app.config["PUBLIC_BASE_URL"]
    (link,) = set(re.findall(re.escape(base) + r"/billing/[\w.-]+", sent.get_data(as_text=True)))
    with live_app.test_request_context():
        assert links.billing_target(link.rsplit("/", 1)[1]) == sub.id
    path = link.split(base, 1)[1]
    buyer = live_app.test_client()
    assert "Open the billing page" in buyer.get(path).get_data(as_text=True)
    assert stripe_http.calls == []  # opening the page (or a mail scanner) calls nothing
    answer = post_form(buyer, path)
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("https://billing.stripe.com/p/session/")
    (portal,) = stripe_http.calls
    assert (portal.path, form_of(portal)) == (
        "/v1/billing_portal/sessions",
        {"customer": "cus_live_1", "return_url": link},
    )


def test_cancel_at_period_end_sends_one_keyed_request(live_app, stripe_http, staff):
    sub = subscribed(live_app, made_plan(live_app, stripe_http, staff), stripe_http)
    answer = post_form(staff, f"/subscriptions/{sub.id}/cancel/confirm", {"when": "period_end"})
    assert answer.status_code == 303
    (call,) = stripe_http.calls
    assert (call.method, call.path, form_of(call)) == (
        "POST",
        "/v1/subscriptions/sub_live_1",
        {"cancel_at_period_end": "true"},
    )
    assert call.headers["Idempotency-Key"] == f"subscription-{sub.id}-cancel_period_end-1"


def test_a_lost_answer_is_sent_again_with_the_same_key(live_app, stripe_http, staff):
    sub = subscribed(live_app, made_plan(live_app, stripe_http, staff), stripe_http)
    stripe_http.fail_next("DELETE", "/v1/subscriptions/sub_live_1", 500, {"type": "api_error"})
    first = post_form(staff, f"/subscriptions/{sub.id}/cancel/confirm", {"when": "now"})
    assert first.status_code == 303
    second = post_form(staff, f"/subscriptions/{sub.id}/cancel/confirm", {"when": "now"})
    assert second.status_code == 303
    keys = [call.headers["Idempotency-Key"] for call in stripe_http.calls]
    assert keys == [f"subscription-{sub.id}-cancel_now-1"] * 2
    with live_app.app_context():
        statuses = list(db.session.scalars(select(SubscriptionRequest.status)))
        assert statuses == ["succeeded"]
        assert db.session.get(Subscription, sub.id).status == "canceled"


def test_a_withdrawn_plan_takes_no_subscriber(live_app, stripe_http, staff):
    plan = made_plan(live_app, stripe_http, staff)
    token = subscribe_token(live_app, plan.id, "ada@shop.example")
    assert post_form(staff, f"/plans/{plan.id}/withdraw").status_code == 303
    (withdraw,) = stripe_http.calls
    assert (withdraw.path, form_of(withdraw)) == (
        f"/v1/prices/{plan.stripe_price_id}",
        {"active": "false"},
    )
    stripe_http.calls.clear()
    buyer = live_app.test_client()
    page = buyer.get(f"/subscribe/{token}").get_data(as_text=True)
    assert "no longer offered" in page and "Subscribe with Stripe" not in page
    answer = post_form(buyer, f"/subscribe/{token}/checkout")
    assert "no longer offered" in answer.get_data(as_text=True)
    refused = post_form(staff, f"/plans/{plan.id}/subscribe-link", {"email": "b@shop.example"})
    assert refused.status_code == 409
    assert stripe_http.calls == []


def tampered(token: str) -> list[str]:
    head, _, signature = token.rpartition(".")
    # The first character: all six of its bits are the signature's. The last carries
    # padding bits too, so "B" for "A" there can decode to the same signature.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [f"{head}.{flipped}", token[:-4], token + "x", "not-a-link", head]


def test_a_tampered_subscribe_link_names_nothing(live_app, stripe_http, staff):
    plan = made_plan(live_app, stripe_http, staff)
    token = subscribe_token(live_app, plan.id, "ada@shop.example")
    buyer = live_app.test_client()
    for bad in tampered(token):
        page = buyer.get(f"/subscribe/{bad}")
        assert page.status_code == 404 and "Gold box" not in page.get_data(as_text=True)
        assert post_form(buyer, f"/subscribe/{bad}/checkout").status_code == 404
    other_plan: dict[str, Any] = {"plan": plan.id + 1, "email": "ada@shop.example"}
    with live_app.test_request_context():
        forged = links._serializer("another-salt").dumps(other_plan)
        unknown_plan = links._serializer(links.SUBSCRIBE_SALT).dumps(other_plan)
    assert buyer.get(f"/subscribe/{forged}").status_code == 404
    assert buyer.get(f"/subscribe/{unknown_plan}").status_code == 404
    assert stripe_http.calls == []
    with live_app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 0


def test_an_expired_subscribe_link_says_so(live_app, stripe_http, staff):
    plan = made_plan(live_app, stripe_http, staff)
    token = subscribe_token(live_app, plan.id, "ada@shop.example")
    live_app.config["PAY_LINK_MAX_AGE"] = -1
    assert live_app.test_client().get(f"/subscribe/{token}").status_code == 410


def test_the_buyers_links_are_kept_out_of_logs_and_caches(live_app, stripe_http, staff):
    from dashboard.services.pay_links import redact_pay_links

    plan = made_plan(live_app, stripe_http, staff)
    token = subscribe_token(live_app, plan.id, "ada@shop.example")
    assert redact_pay_links(f"GET /subscribe/{token}/done HTTP/1.1") == (
        "GET /subscribe/<redacted>/done HTTP/1.1"
    )
    assert redact_pay_links("POST /billing/abc.def HTTP/1.1") == "POST /billing/<redacted> HTTP/1.1"
    page = live_app.test_client().get(f"/subscribe/{token}")
    assert "no-store" in page.headers["Cache-Control"]


def limits(app, *, per_link=1000, per_address=1000):
    app.config.update(
        PAY_STRIPE_CALL_WINDOW=3600,
        PAY_STRIPE_CALLS_PER_LINK=per_link,
        PAY_STRIPE_CALLS_PER_ADDRESS=per_address,
    )


def test_a_subscribe_link_reaches_stripe_only_so_often(live_app, stripe_http, staff):
    """As a pay link: past its share of the window, the offer page says to wait (429,
    Retry-After) and Stripe is not called. Another link from the same address shares the
    address's share; a tampered link is refused as before, counting nothing."""
    plan = made_plan(live_app, stripe_http, staff)
    limits(live_app, per_link=1, per_address=2)
    first = subscribe_token(live_app, plan.id, "ada@shop.example", "Ada")
    buyer = live_app.test_client()
    for bad in tampered(first):
        assert post_form(buyer, f"/subscribe/{bad}/checkout").status_code == 404
    assert post_form(buyer, f"/subscribe/{first}/checkout").status_code == 303
    made = len(stripe_http.calls)
    again = post_form(buyer, f"/subscribe/{first}/checkout")
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 3500
    assert "too many attempts from here" in again.get_data(as_text=True)
    assert "Subscribe with Stripe" in again.get_data(as_text=True)  # the offer is still there
    second = subscribe_token(live_app, plan.id, "bo@shop.example", "Bo")
    assert post_form(buyer, f"/subscribe/{second}/checkout").status_code == 303
    assert post_form(buyer, f"/subscribe/{second}/checkout").status_code == 429  # the address
    assert len(stripe_http.calls) == made + 2  # Bo's customer and session, nothing after


def test_a_billing_link_opens_the_portal_only_so_often(live_app, stripe_http, staff):
    sub = subscribed(live_app, made_plan(live_app, stripe_http, staff), stripe_http)
    limits(live_app, per_link=2)
    with live_app.test_request_context():
        path = links.billing_url(sub.id).split(live_app.config["PUBLIC_BASE_URL"], 1)[1]
    buyer = live_app.test_client()
    assert [post_form(buyer, path).status_code for _ in range(2)] == [303, 303]
    refused = post_form(buyer, path)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "too many attempts from here" in refused.get_data(as_text=True)
    assert [call.path for call in stripe_http.calls] == ["/v1/billing_portal/sessions"] * 2
