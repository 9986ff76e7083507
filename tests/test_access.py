"""Who may reach what: every route of the app, for every kind of visitor."""

import logging

import pytest
from flask import Flask

from dashboard.extensions import db
from dashboard.models import Role, SavedPaymentMethod, StripeRequest
from dashboard.services import card_setup, customers
from dashboard.services.pay_links import pay_links
from dashboard.views import UndeclaredRoute, register_blueprints
from tests.support.database import stored_events
from tests.support.stripe import send_event, stripe_event, stripe_example
from tests.support.web import login, post_form

ANON, SUPPORT, STAFF, ADMIN = "anonymous", "support", "staff", "admin"
VISITORS = (ANON, SUPPORT, STAFF, ADMIN)

# (endpoint, method): path template, form data, expected status per visitor.
# 302 for anonymous means "sent to the sign-in page"; 403 means refused.
MATRIX = {
    ("auth.login", "GET"): ("/login", None, (200, 302, 302, 302)),
    ("auth.login", "POST"): ("/login", {}, (422, 302, 302, 302)),
    ("auth.logout", "POST"): ("/logout", {}, (302, 302, 302, 302)),
    ("auth.account", "GET"): ("/account", None, (302, 200, 200, 200)),
    ("auth.sign_out_everywhere", "POST"): (
        "/account/sign-out-everywhere",
        {},
        (302, 303, 303, 303),
    ),
    ("auth.alert_choices", "POST"): (
        "/account/alerts",
        {"dispute_opened": "y"},
        (302, 303, 303, 303),
    ),
    ("auth.time_zone", "POST"): (
        "/account/time-zone",
        {"time_zone": "Europe/Paris"},
        (302, 303, 303, 303),
    ),
    # The second step of signing in: without a waiting sign-in, back to the password (303);
    # signed in already, on to the dashboard (302).
    ("auth.code", "GET"): ("/login/code", None, (303, 302, 302, 302)),
    ("auth.code", "POST"): ("/login/code", {"code": "123456"}, (303, 302, 302, 302)),
    ("auth.enrol", "GET"): ("/login/two-step-setup", None, (303, 302, 302, 302)),
    ("auth.enrol", "POST"): ("/login/two-step-setup", {}, (303, 302, 302, 302)),
    # Forgot your password: asking for a link (signed in: to one's account page instead);
    # a link that is not one of ours does not work for anyone.
    ("password_reset.forgot", "GET"): ("/login/forgot", None, (200, 302, 302, 302)),
    ("password_reset.forgot", "POST"): ("/login/forgot", {}, (422, 302, 302, 302)),
    ("password_reset.reset", "GET"): ("/login/reset/not-a-link", None, (404, 404, 404, 404)),
    ("password_reset.reset", "POST"): ("/login/reset/not-a-link", {}, (404, 404, 404, 404)),
    # One's own two-step sign-in, from the account page; these visitors have none yet.
    ("two_factor.setup", "GET"): ("/account/two-step", None, (302, 200, 200, 200)),
    ("two_factor.confirm", "POST"): ("/account/two-step", {}, (302, 303, 303, 303)),
    ("two_factor.new_recovery_codes", "POST"): (
        "/account/two-step/recovery-codes",
        {},
        (302, 303, 303, 303),
    ),
    ("two_factor.turn_off", "POST"): ("/account/two-step/off", {}, (302, 303, 303, 303)),
    ("home.index", "GET"): ("/", None, (302, 200, 200, 200)),
    ("home.hold_list", "GET"): ("/holds?currency=USD", None, (302, 200, 200, 200)),
    ("home.movement_list", "GET"): (
        "/movements?kind=capture&currency=USD&from=2026-12-01&to=2026-12-07",
        None,
        (302, 200, 200, 200),
    ),
    ("orders.index", "GET"): ("/orders", None, (302, 200, 200, 200)),
    ("orders.new", "GET"): ("/orders/new", None, (302, 403, 200, 200)),
    ("orders.new", "POST"): ("/orders/new", {}, (302, 403, 422, 422)),
    ("orders.detail", "GET"): ("/orders/{order_id}", None, (302, 200, 200, 200)),
    ("orders.timeline", "GET"): ("/orders/{order_id}/timeline", None, (302, 200, 200, 200)),
    ("pay.show", "GET"): ("/pay/{token}", None, (200, 200, 200, 200)),
    ("admin.user_list", "GET"): ("/admin/users", None, (302, 403, 403, 200)),
    ("agent_deliveries.index", "GET"): ("/admin/agent-deliveries", None, (302, 403, 403, 200)),
    ("admin.user_create", "POST"): ("/admin/users", {}, (302, 403, 403, 422)),
    ("admin.user_role", "POST"): (
        "/admin/users/{user_id}/role",
        {"role": "support"},
        (302, 403, 403, 303),
    ),
    ("admin.user_deactivate", "POST"): (
        "/admin/users/{user_id}/deactivate",
        {},
        (302, 403, 403, 303),
    ),
    ("admin.user_reactivate", "POST"): (
        "/admin/users/{user_id}/reactivate",
        {},
        (302, 403, 403, 303),
    ),
    ("admin.two_step_requirement", "POST"): (
        "/admin/two-step-requirement",
        {"required": "on"},
        (302, 403, 403, 422),
    ),
    ("admin.card_requests_setting", "POST"): (
        "/admin/card-requests",
        {
            "request_extended_authorization": "never",
            "request_incremental_authorization": "if_available",
            "request_multicapture": "if_available",
            "request_overcapture": "never",
        },
        (302, 403, 403, 303),
    ),
    # The product catalog: everyone signed in reads it, staff change it. No product has
    # this id, so past the role check a 404 (tests/test_products.py changes real ones).
    ("products.index", "GET"): ("/products", None, (302, 200, 200, 200)),
    ("products.new", "GET"): ("/products/new", None, (302, 403, 200, 200)),
    ("products.new", "POST"): ("/products/new", {}, (302, 403, 422, 422)),
    ("products.edit", "GET"): ("/products/no-such-product/edit", None, (302, 403, 404, 404)),
    ("products.edit", "POST"): ("/products/no-such-product/edit", {}, (302, 403, 404, 404)),
    ("products.deactivate", "POST"): (
        "/products/no-such-product/deactivate",
        {},
        (302, 403, 404, 404),
    ),
    ("products.reactivate", "POST"): (
        "/products/no-such-product/reactivate",
        {},
        (302, 403, 404, 404),
    ),
    # AI agents: admins only (tests/test_agents_admin.py registers and revokes real ones).
    ("agents_admin.index", "GET"): ("/admin/agents", None, (302, 403, 403, 200)),
    ("agents_admin.register", "POST"): ("/admin/agents", {}, (302, 403, 403, 422)),
    ("agents_admin.revoke", "GET"): ("/admin/agents/999999/revoke", None, (302, 403, 403, 404)),
    ("agents_admin.revoke", "POST"): (
        "/admin/agents/999999/revoke",
        {"confirm": "y"},
        (302, 403, 403, 404),
    ),
    ("health.healthz", "GET"): ("/healthz", None, (200, 200, 200, 200)),
    # Money actions: without JavaScript each answers with a redirect to the order page
    # (and a message); the order here has no payment, so nothing reaches Stripe.
    ("payments.capture", "POST"): (
        "/orders/{order_id}/capture",
        {"amount": "1.00"},
        (302, 403, 303, 303),
    ),
    ("payments.void", "POST"): (
        "/orders/{order_id}/void",
        {"reason": "requested_by_customer"},
        (302, 403, 303, 303),
    ),
    ("payments.refund", "POST"): (
        "/orders/{order_id}/refund",
        {"amount": "1.00", "reason": "requested_by_customer"},
        (302, 403, 303, 303),
    ),
    # Their confirmations (the step that sends): refused the same way, nothing sent.
    ("payments.capture_confirmed", "POST"): (
        "/orders/{order_id}/capture/confirm",
        {"amount": "100", "basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.void_confirmed", "POST"): (
        "/orders/{order_id}/void/confirm",
        {"reason": "requested_by_customer", "basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.refund_confirmed", "POST"): (
        "/orders/{order_id}/refund/confirm",
        {"amount": "100", "reason": "requested_by_customer", "basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.partial_capture", "POST"): (
        "/orders/{order_id}/partial-capture",
        {"amount": "1.00"},
        (302, 403, 303, 303),
    ),
    ("payments.partial_capture_confirmed", "POST"): (
        "/orders/{order_id}/partial-capture/confirm",
        {"amount": "100", "basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.release", "POST"): ("/orders/{order_id}/release", {}, (302, 403, 303, 303)),
    ("payments.release_confirmed", "POST"): (
        "/orders/{order_id}/release/confirm",
        {"basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.increment", "POST"): (
        "/orders/{order_id}/increment",
        {"amount": "50.00"},
        (302, 403, 303, 303),
    ),
    ("payments.increment_confirmed", "POST"): (
        "/orders/{order_id}/increment/confirm",
        {"amount": "5000", "basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.order_card_requests", "POST"): (
        "/orders/{order_id}/card-requests",
        {"request_multicapture": "if_available"},
        (302, 403, 303, 303),
    ),
    # A new hold (saved card) or a new pay link: said, then confirmed; refused the same way
    # (the order has no lapsed hold), nothing sent.
    ("payments.reauthorize", "POST"): ("/orders/{order_id}/reauthorize", {}, (302, 403, 303, 303)),
    ("payments.reauthorize_confirmed", "POST"): (
        "/orders/{order_id}/reauthorize/confirm",
        {"amount": "100", "basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.new_pay_link", "POST"): (
        "/orders/{order_id}/new-pay-link",
        {},
        (302, 403, 303, 303),
    ),
    ("payments.new_pay_link_confirmed", "POST"): (
        "/orders/{order_id}/new-pay-link/confirm",
        {"amount": "100", "basis": "100"},
        (302, 403, 303, 303),
    ),
    ("payments.settle", "POST"): ("/orders/{order_id}/settle", {}, (302, 403, 303, 303)),
    ("payments.payment_method", "POST"): (
        "/orders/{order_id}/payment-method",
        {"method": "payment_page"},
        (302, 403, 303, 303),
    ),
    # Buyer pages are public. Their forms answer 303 to the pay page, which says how it went
    # (with no Stripe key configured: that payment is unavailable); the card page without
    # an opened payment sends the buyer there too.
    ("pay.checkout", "POST"): ("/pay/{token}/checkout", {}, (303, 303, 303, 303)),
    ("pay.card", "POST"): ("/pay/{token}/card", {}, (303, 303, 303, 303)),
    ("pay.card_page", "GET"): ("/pay/{token}/card", None, (303, 303, 303, 303)),
    # Outside the sandbox its test-card routes are not there.
    ("pay.sandbox_card", "POST"): (
        "/pay/{token}/sandbox-card",
        {"card": "success"},
        (404, 404, 404, 404),
    ),
    ("pay.sandbox_authenticate", "POST"): (
        "/pay/{token}/sandbox-authenticate",
        {"outcome": "success"},
        (404, 404, 404, 404),
    ),
    ("pay.done", "GET"): ("/pay/{token}/done", None, (200, 200, 200, 200)),
    # The event log; the event rows here do not exist, so past the role check a 404
    # (tests/test_event_log.py shows the same routes on stored events).
    ("events.index", "GET"): ("/events", None, (302, 200, 200, 200)),
    ("events.lag", "GET"): ("/events/lag", None, (302, 200, 200, 200)),
    ("events.detail", "GET"): ("/events/999999", None, (302, 404, 404, 404)),
    ("events.raw", "GET"): ("/events/999999/raw", None, (302, 404, 404, 404)),
    ("events.reprocess", "POST"): ("/events/999999/reprocess", {}, (302, 403, 404, 404)),
    # Customers (tests/test_customers.py): removing a card and sending a save-a-card link
    # are staff's; with no Stripe key configured the removal says so (303 back).
    ("customers.index", "GET"): ("/customers", None, (302, 200, 200, 200)),
    ("customers.detail", "GET"): ("/customers/{customer_id}", None, (302, 200, 200, 200)),
    ("customers.detach_confirm", "GET"): (
        "/customers/{customer_id}/payment-methods/{method_id}/detach",
        None,
        (302, 403, 200, 200),
    ),
    ("customers.detach", "POST"): (
        "/customers/{customer_id}/payment-methods/{method_id}/detach",
        {},
        (302, 403, 303, 303),
    ),
    ("customers.save_card_link", "POST"): (
        "/customers/{customer_id}/save-card-link",
        {},
        (302, 403, 303, 303),
    ),
    # The buyer's save-a-card page is public; without the consent ticked nothing starts.
    ("save_card.show", "GET"): ("/save-card/{setup_token}", None, (200, 200, 200, 200)),
    ("save_card.card", "POST"): ("/save-card/{setup_token}/card", {}, (422, 422, 422, 422)),
    ("save_card.checkout", "POST"): (
        "/save-card/{setup_token}/checkout",
        {},
        (422, 422, 422, 422),
    ),
    ("save_card.sandbox_card", "POST"): (
        "/save-card/{setup_token}/sandbox-card",
        {"card": "success", "consent": "y"},
        (404, 404, 404, 404),
    ),
    ("save_card.done", "GET"): ("/save-card/{setup_token}/done", None, (400, 400, 400, 400)),
    ("save_card.checkout_done", "GET"): (
        "/save-card/{setup_token}/checkout-done",
        None,
        (400, 400, 400, 400),
    ),
    # Apple Pay's domain file: public, and not there unless configured.
    ("wallets.apple_domain_association", "GET"): (
        "/.well-known/apple-developer-merchantid-domain-association",
        None,
        (404, 404, 404, 404),
    ),
    # The sandbox's mail page: not there outside the sandbox (tests/test_sandbox_mail.py).
    # Disputes: everyone reads; staff and admins answer (an unknown dispute: 404).
    ("disputes.index", "GET"): ("/disputes", None, (302, 200, 200, 200)),
    ("disputes.detail", "GET"): ("/disputes/999999", None, (302, 404, 404, 404)),
    ("disputes.save", "POST"): ("/disputes/999999/evidence", {}, (302, 403, 404, 404)),
    ("disputes.submit", "POST"): ("/disputes/999999/submit", {}, (302, 403, 404, 404)),
    ("disputes.upload", "POST"): ("/disputes/999999/documents", {}, (302, 403, 404, 404)),
    # Exports: support may export too.
    ("exports.index", "GET"): ("/exports", None, (302, 200, 200, 200)),
    ("exports.download", "GET"): ("/exports/orders.csv", None, (302, 200, 200, 200)),
    ("sandbox_mail.index", "GET"): ("/sandbox/mail", None, (302, 404, 404, 404)),
    # Subscriptions: plans and subscriptions that do not exist are 404 past the role check;
    # the buyer's links that are not ours do not work for anyone.
    ("subscriptions.plan_list", "GET"): ("/plans", None, (302, 200, 200, 200)),
    ("subscriptions.plan_create", "POST"): ("/plans", {}, (302, 403, 422, 422)),
    ("subscriptions.plan_detail", "GET"): ("/plans/999999", None, (302, 404, 404, 404)),
    ("subscriptions.subscribe_link", "POST"): (
        "/plans/999999/subscribe-link",
        {"email": "buyer@shop.example"},
        (302, 403, 404, 404),
    ),
    ("subscriptions.plan_withdraw", "POST"): (
        "/plans/999999/withdraw",
        {},
        (302, 403, 404, 404),
    ),
    ("subscriptions.index", "GET"): ("/subscriptions", None, (302, 200, 200, 200)),
    ("subscriptions.detail", "GET"): ("/subscriptions/999999", None, (302, 404, 404, 404)),
    ("subscriptions.cancel", "GET"): (
        "/subscriptions/999999/cancel?when=now",
        None,
        (302, 403, 404, 404),
    ),
    ("subscriptions.cancel_confirmed", "POST"): (
        "/subscriptions/999999/cancel/confirm",
        {"when": "now"},
        (302, 403, 404, 404),
    ),
    ("subscriptions.portal_link", "POST"): (
        "/subscriptions/999999/portal-link",
        {},
        (302, 403, 404, 404),
    ),
    ("subscribe.show", "GET"): ("/subscribe/not-a-link", None, (404, 404, 404, 404)),
    ("subscribe.checkout", "POST"): ("/subscribe/not-a-link/checkout", {}, (404, 404, 404, 404)),
    ("subscribe.sandbox_card", "POST"): (
        "/subscribe/not-a-link/sandbox-card",
        {"card": "success"},
        (404, 404, 404, 404),
    ),
    ("subscribe.done", "GET"): ("/subscribe/not-a-link/done", None, (404, 404, 404, 404)),
    ("subscribe.billing", "GET"): ("/billing/not-a-link", None, (404, 404, 404, 404)),
    ("subscribe.billing_portal", "POST"): ("/billing/not-a-link", {}, (404, 404, 404, 404)),
    # Stripe's endpoint: public, CSRF-exempt, and an unsigned post is refused for anyone.
    ("webhooks.stripe_webhook", "POST"): ("/webhooks/stripe", {}, (400, 400, 400, 400)),
    # The agents' checkout API: public routes, CSRF-exempt, authenticated by an agent's API
    # key alone; a sign-in is no key, so everyone without one is refused (401).
    ("acp.create_session", "POST"): ("/checkout_sessions", {}, (401, 401, 401, 401)),
    ("acp.get_session", "GET"): ("/checkout_sessions/cs_x", None, (401, 401, 401, 401)),
    ("acp.update_session", "POST"): ("/checkout_sessions/cs_x", {}, (401, 401, 401, 401)),
    ("acp.complete_session", "POST"): (
        "/checkout_sessions/cs_x/complete",
        {},
        (401, 401, 401, 401),
    ),
    ("acp.cancel_session", "POST"): ("/checkout_sessions/cs_x/cancel", {}, (401, 401, 401, 401)),
}


def test_every_route_has_a_row_in_the_matrix(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(MATRIX), "add the new route to MATRIX with its expected statuses"


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[1]} {r[0]}")
def test_role_route_matrix(app, make_user, make_order, route):
    template, data, expected = MATRIX[route]
    order = make_order()
    target = make_user(Role.SUPPORT, email="target@shop.example")
    with app.test_request_context():
        token = pay_links().token_for(order.id)
        buyer = customers.find_or_create("buyer@example.com", "Ada Buyer")
        card = SavedPaymentMethod(customer_id=buyer.id, stripe_payment_method_id="pm_matrix")
        db.session.add(card)
        db.session.commit()
        setup_token = card_setup.token_for(buyer.id, "matrix")
        customer_id, method_id = buyer.id, card.id
    path = template.format(
        order_id=order.id,
        user_id=target.id,
        token=token,
        customer_id=customer_id,
        method_id=method_id,
        setup_token=setup_token,
    )
    for visitor, status in zip(VISITORS, expected, strict=True):
        client = app.test_client()
        if visitor != ANON:
            make_user(Role(visitor), email=f"{visitor}@shop.example")
            assert login(client, f"{visitor}@shop.example").status_code == 302
        response = client.get(path) if data is None else post_form(client, path, data)
        assert response.status_code == status, f"{visitor} {route}"
        public_redirect = route[0] == "auth.logout" or route[0].startswith(("pay.", "save_card."))
        if status in (302, 303) and visitor == ANON and not public_redirect:
            # A staff page sends a visitor to sign in (a buyer's page, to the pay page).
            assert response.headers["Location"].startswith("/login")
        response.close()  # a streamed answer (an export) lets go of its database connection


def test_forbidden_post_is_audited(signed_in, make_order, caplog):
    client = signed_in(Role.SUPPORT)
    with caplog.at_level(logging.WARNING, logger="dashboard.audit"):
        response = post_form(client, "/orders/new", {"buyer_name": "x"})
    assert response.status_code == 403
    (record,) = [r for r in caplog.records if r.name == "dashboard.audit"]
    assert record.method == "POST"
    assert record.path == "/orders/new"
    assert record.role == "support"
    assert "forbidden" in record.getMessage()


def test_a_route_without_an_access_rule_stops_the_app_from_starting():
    app = Flask(__name__)

    @app.route("/forgotten")
    def forgotten():
        return "open to all by accident"

    with pytest.raises(UndeclaredRoute, match="forgotten"):
        register_blueprints(app)


def test_staff_page_links_follow_the_role(signed_in):
    support_page = signed_in(Role.SUPPORT).get("/orders").get_data(as_text=True)
    assert 'href="/orders/new"' not in support_page
    assert 'href="/admin/users"' not in support_page
    staff_page = signed_in(Role.STAFF).get("/orders").get_data(as_text=True)
    assert 'href="/orders/new"' in staff_page
    assert 'href="/admin/users"' not in staff_page
    admin_page = signed_in(Role.ADMIN).get("/orders").get_data(as_text=True)
    assert 'href="/admin/users"' in admin_page


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.STAFF, Role.ADMIN], ids=str)
def test_pages_offer_a_button_exactly_to_the_roles_its_route_lets_in(
    app, signed_in, make_order, role
):
    """Each control is shown to a role iff MATRIX above does not refuse it that route."""
    open_order, waiting = make_order(), make_order()
    with app.app_context():
        # A capture whose answer from Stripe was lost: the panel offers "Check with Stripe".
        db.session.add(
            StripeRequest(
                order_id=waiting.id,
                action="capture",
                amount=1000,
                idempotency_key=f"order-{waiting.id}-capture-1000-1",
                status="unknown",
            )
        )
        db.session.commit()
    intent = {**stripe_example("payment_intent"), "metadata": {"order_id": "424242"}}
    answer = send_event(app.test_client(), stripe_event("payment_intent.processing", intent))
    assert answer.status_code == 200
    (unmatched,) = stored_events(app)
    assert unmatched.status == "unmatched"

    client = signed_in(role)
    pages = {
        "open order": client.get(f"/orders/{open_order.id}").get_data(as_text=True),
        "waiting order": client.get(f"/orders/{waiting.id}").get_data(as_text=True),
        "unmatched event": client.get(f"/events/{unmatched.id}").get_data(as_text=True),
        "event log": client.get("/events").get_data(as_text=True),
    }
    assert 'id="awaiting-confirmation"' in pages["waiting order"]  # every reader is told
    controls = [
        ("open order", 'id="method-form"', ("payments.payment_method", "POST")),
        ("waiting order", "Check with Stripe</button>", ("payments.settle", "POST")),
        ("unmatched event", "Reprocess</button>", ("events.reprocess", "POST")),
        ("event log", "Reprocess</button>", ("events.reprocess", "POST")),
    ]
    for page, control, route in controls:
        allowed = MATRIX[route][2][VISITORS.index(role.value)] != 403
        assert (control in pages[page]) is allowed, f"{role}: {control} on the {page}"
