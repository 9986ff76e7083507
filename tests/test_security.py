"""Security across the whole app: CSRF and headers on every route of the URL map, redirects,
pay-link tokens, hostile text in every input surface, and secrets that never leave.

The route lists are read from `app.url_map`, so a new route is covered (or fails) here
without anyone remembering to add it. docs/bad-inputs.md catalogues what is tried.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time

import pytest

from dashboard import create_app
from dashboard.domain.buyer_words import GENERIC_DECLINE
from dashboard.extensions import db
from dashboard.models import Order, Role, StripeRequest, TimelineEntry, User
from dashboard.services.pay_links import PayLinks
from dashboard.web import CONTENT_SECURITY_POLICY, STRIPE_JS_CSP
from tests.support.app import add_failing_route, base_config
from tests.support.database import count, reload
from tests.support.localstripe import SANDBOX_KEY, stripe_pi
from tests.support.routes import route_paths
from tests.support.stripe import WEBHOOK_SECRET, send_event, stripe_event, stripe_example
from tests.support.web import (
    HOSTILE,
    HTMX,
    PASSWORD,
    csrf_token,
    login,
    move_money,
    pay_link,
    pay_with_test_card,
    post_form,
)

HOSTILE_NAME = '<script>alert("n")</script>\'"&amp;<img src=x onerror=alert(1)>'
HOSTILE_LINE = "<svg onload=alert('l')>\"quoted\" & 'single'"
# Stripe signs its posts, and an AI agent authenticates with its API key (no session, no
# cookie to ride on): neither can send our token.
CSRF_EXEMPT = {
    "webhooks.stripe_webhook",
    "acp.create_session",
    "acp.update_session",
    "acp.complete_session",
    "acp.cancel_session",
}


def assert_no_live_markup(text, where):
    """Hostile markup shows as text: no tag or attribute of it is live."""
    for live in ("<script>", "<img src=x", "<svg onload"):
        assert live not in text, f"{where}: {live!r} rendered unescaped"


# -- CSRF on every state-changing route ---------------------------------------------------


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(
    app, signed_in, make_order, make_user
):
    admin = signed_in(Role.ADMIN)  # an admin reaches every route: only CSRF can refuse
    order, target, routes = route_paths(app, make_order, make_user)
    posts = [(e, m, p) for e, m, p in routes if m not in ("GET",) and e not in CSRF_EXEMPT]
    assert {e for e, m, _ in routes if m != "GET"} - {e for e, _, _ in posts} == CSRF_EXEMPT
    before = {model: count(app, model) for model in (Order, User, TimelineEntry, StripeRequest)}
    foreign = csrf_token(app.test_client())
    refused = []
    attempts = {
        "form, no token": {"data": {"role": "admin", "amount": "1.00", "method": "payment_page"}},
        "htmx, no token": {"data": {"role": "admin"}, "headers": HTMX},
        "htmx, wrong header token": {"headers": {**HTMX, "X-CSRFToken": "forged"}},
        "another session's token": {"data": {"csrf_token": foreign, "role": "admin"}},
    }
    for endpoint, method, path in posts:
        for how, kwargs in attempts.items():
            response = admin.open(path, method=method, **kwargs)
            body = response.get_data(as_text=True)
            if response.status_code != 400 or "Nothing was changed" not in body:
                refused.append(f"{method} {path} ({endpoint}), {how}: {response.status_code}")
    assert not refused, "CSRF not enforced:\n" + "\n".join(refused)
    assert {m: count(app, m) for m in before} == before
    assert reload(app, order.id).payment_method is None
    with app.app_context():
        user = db.session.get(User, target.id)
        assert (user.role, user.active) == ("support", True)
    assert admin.get("/orders").status_code == 200  # the logout post did not sign out


def test_htmx_requests_carry_the_token_from_the_page_and_are_accepted(app, signed_in, make_order):
    staff = signed_in(Role.STAFF)
    order = make_order()
    page = staff.get(f"/orders/{order.id}").get_data(as_text=True)
    header = re.search(r"<body hx-headers='([^']+)'>", page)
    assert header, "the CSRF token travels on <body hx-headers> for every htmx request"
    token = json.loads(header.group(1))["X-CSRFToken"]
    assert f'<meta name="csrf-token" content="{token}">' in page
    response = staff.post(
        f"/orders/{order.id}/payment-method",
        data={"method": "payment_page"},
        headers={**HTMX, "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert "Saved how the buyer pays." in response.get_data(as_text=True)
    assert reload(app, order.id).payment_method == "payment_page"


def test_the_webhook_is_exempt_from_csrf_and_answers_unsigned_posts_400(app):
    response = app.test_client().post("/webhooks/stripe", data=b"{}", headers=HTMX)
    assert response.status_code == 400
    assert response.json["reason"] == "missing_signature"  # refused by signature, not CSRF


def test_the_agents_api_is_exempt_from_csrf_but_not_from_its_key(app, signed_in):
    # A signed-in staff browser's cookie buys nothing there: only an agent's key does.
    staff = signed_in(Role.STAFF)
    response = staff.post(
        "/checkout_sessions", json={"line_items": []}, headers={"API-Version": "2026-04-17"}
    )
    assert response.status_code == 401
    assert response.json["code"] == "invalid_api_key"


# -- security headers on every page --------------------------------------------------------


def csp_directives(policy):
    return {
        part.split()[0]: set(part.split()[1:])
        for part in (p.strip() for p in policy.split(";"))
        if part
    }


def assert_security_headers(response, where, *, https=False):
    headers = response.headers
    policy = csp_directives(headers.get("Content-Security-Policy", ""))
    assert policy.get("default-src") == {"'self'"}, where
    assert policy.get("frame-ancestors") == {"'none'"}, where
    assert policy.get("object-src") == {"'none'"}, where
    for directive, sources in policy.items():
        loose = {"'unsafe-inline'", "'unsafe-eval'", "*"} | (
            set() if directive == "img-src" else {"data:"}
        )
        assert not sources & loose, f"{where}: {directive} {sources}"
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where
    if https:
        hsts = headers.get("Strict-Transport-Security", "")
        assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts), where
        assert int(hsts.split("=")[1].split(";")[0]) >= 180 * 86400, where
    else:
        assert "Strict-Transport-Security" not in headers, where


def get_routes(app, make_order, make_user):
    _, _, routes = route_paths(app, make_order, make_user)
    # The sandbox's mail page is a 404 outside the sandbox, where this runs: an error page
    # below (tests/test_sandbox_mail.py shows it in the sandbox).
    gets = [(e, p) for e, m, p in routes if m == "GET" and e != "sandbox_mail.index"]
    # The lists behind Home's figures list nothing without what to list (their 400 is
    # checked in tests/test_query_strings.py): here, one each can list.
    listing = {
        "home.movement_list": "?kind=capture&currency=USD&from=2026-12-01&to=2026-12-07",
        "home.hold_list": "?currency=USD",
    }
    gets = [(e, p + listing.get(e, "")) for e, p in gets]
    assert {"static", "pay.show", "orders.detail", "events.raw"} <= {e for e, _ in gets}
    return gets


def error_responses(app, client, order_id):
    """One of each error page, for a signed-in support user's client."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return {
        "404 page": client.get("/no-such-page"),
        "404 order": client.get("/orders/99999999999999999999"),
        "403": client.get("/admin/users"),
        "405": client.get("/logout"),
        "400 csrf": client.post("/logout"),
        "400 bad filter": client.get("/orders", query_string={"state": "<script>"}),
        "404 bad pay link": client.get("/pay/not-a-token"),
        "404 sandbox mail outside the sandbox": client.get("/sandbox/mail"),
        "404 reset link that does not work": client.get("/login/reset/not-a-link"),
        "413 webhook": client.post("/webhooks/stripe", data=b"x" * (600 * 1024)),
        "400 webhook": client.post("/webhooks/stripe", data=b"{}"),
    }


@pytest.fixture
def served(request, database_url, tmp_path, app):
    """A second app on the test database, configured from PUBLIC_BASE_URL as in production."""
    served = create_app(
        {**base_config(database_url), "PUBLIC_BASE_URL": request.param},
        instance_path=str(tmp_path / "served"),
    )
    yield served
    with served.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    ("served", "https"),
    [("http://dashboard.test", False), ("https://pay.shop.example", True)],
    ids=["http", "https"],
    indirect=["served"],
)
def test_security_headers_on_every_get_route_and_every_error_page(
    served, app, make_order, make_user, monkeypatch, https
):
    assert served.config["PREFERRED_URL_SCHEME"] == ("https" if https else "http")
    failing = add_failing_route(served, RuntimeError("boom"))
    gets = get_routes(app, make_order, make_user)
    make_user(Role.ADMIN, email="boss@shop.example")
    client = served.test_client()
    client.environ_base["wsgi.url_scheme"] = "https" if https else "http"
    # Over https, Flask-WTF also wants a same-origin Referer on every post.
    client.environ_base["HTTP_REFERER"] = f"{client.environ_base['wsgi.url_scheme']}://localhost/"
    assert login(client, "boss@shop.example").status_code == 302
    for endpoint, path in gets:
        response = client.get(path)
        # The agents' API opens only to an agent's key, never to a staff session: 401. The
        # walk gives every <token> a payment link's token, which the save-a-card and
        # subscribe pages (signed apart) refuse: 404, still with every header; so is Apple
        # Pay's domain file while APPLE_PAY_DOMAIN_FILE is unset.
        expected_refusal = (endpoint.startswith("acp.") and response.status_code == 401) or (
            endpoint.startswith(("save_card.", "subscribe.", "wallets."))
            and response.status_code == 404
        )
        # A subscription's cancel page asks which cancel (?when=now or period_end): 400
        # without it.
        expected_refusal |= endpoint == "subscriptions.cancel" and response.status_code == 400
        assert response.status_code < 400 or expected_refusal, f"{endpoint} {path}"
        assert_security_headers(response, f"{endpoint} {path}", https=https)
        response.close()  # the static file's handle
        if endpoint in ("orders.index", "events.index"):
            assert_security_headers(client.get(path, headers=HTMX), f"htmx {path}", https=https)

    support = served.test_client()
    support.environ_base.update(client.environ_base)
    make_user(Role.SUPPORT, email="help@shop.example")
    assert login(support, "help@shop.example").status_code == 302
    order = make_order()
    later = time.time() + served.config["PAY_LINK_MAX_AGE"] + 60
    link = pay_link(served, order.id)
    errors = error_responses(served, support, order.id)
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    errors["410 expired link"] = support.get(link)
    monkeypatch.undo()
    errors["500"] = support.get(failing)
    for where, response in errors.items():
        assert response.status_code >= 400, where
        assert_security_headers(response, where, https=https)
    assert errors["500"].status_code == 500
    assert errors["410 expired link"].status_code == 410
    assert "boom" not in errors["500"].get_data(as_text=True)


def test_the_payment_page_adds_only_what_stripe_js_needs(live_app, stripe_http, make_order):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    order = make_order()
    response = post_form(
        live_app.test_client(), f"{pay_link(live_app, order.id)}/card", follow_redirects=True
    )
    assert response.status_code == 200
    assert response.request.path.endswith("/card")  # the GET page the click led to
    assert response.headers["Content-Security-Policy"] == STRIPE_JS_CSP
    assert_security_headers(response, "card page")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    base = csp_directives(CONTENT_SECURITY_POLICY)
    page = csp_directives(STRIPE_JS_CSP)
    # Stripe.js's documented needs: its script and frames, 3-D Secure frames, its API.
    stripe_js = {
        "script-src": {"https://js.stripe.com"},
        "frame-src": {"https://js.stripe.com", "https://hooks.stripe.com"},
        "connect-src": {"https://api.stripe.com"},
        "img-src": {"https://*.stripe.com"},
    }
    for directive, sources in page.items():
        inherited = base.get(directive, base["default-src"])
        added = sources - inherited - {"'self'"}
        assert added <= stripe_js.get(directive, set()), f"{directive} adds {added}"
    assert set(base) - set(page) == set(), "the page keeps every base directive"
    assert stripe_http.calls, "the card page was rendered from a real PaymentIntent"


# -- sign-in: next= only to our own paths --------------------------------------------------

EVIL_NEXT = [
    "//evil.example",
    "///evil.example",
    "https://evil.example",
    "https:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/%2F/evil.example",
    "%2F%2Fevil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
]


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_next_never_leaves_the_site_after_sign_in_or_when_signed_in(app, make_user, target):
    make_user(Role.STAFF)
    client = app.test_client()
    # Raw query: a %2F stays encoded on the wire, exactly as an attacker's link would send it.
    query = "next=" + target.replace("\t", "%09").replace(" ", "%20")
    response = post_form(
        client, f"/login?{query}", {"email": "staff@shop.example", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/", target
    again = client.get(f"/login?{query}")
    assert (again.status_code, again.headers["Location"]) == (302, "/"), target


def test_next_to_one_of_our_paths_keeps_its_query(app, make_user):
    make_user(Role.STAFF)
    client = app.test_client()
    response = post_form(
        client,
        "/login?next=%2Forders%3Fstate%3Dauthorized",
        {"email": "staff@shop.example", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/orders?state=authorized"


@pytest.mark.parametrize("script_name", ["//evil.example", "/prefix", "https://evil.example"])
def test_a_script_name_from_any_server_is_ignored(app, make_order, script_name):
    """Whatever server runs the app (tests/test_gunicorn.py has gunicorn's own side): the
    app is served at the root, so redirects and form actions never carry a prefix."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    link = pay_link(app, make_order().id)
    client = app.test_client()
    moved = {"SCRIPT_NAME": script_name}
    page = client.get(link, environ_overrides={**moved, "PATH_INFO": link})
    assert page.status_code == 404  # the path the client sent was the prefix and the link
    redirect = client.get("/orders", environ_overrides=moved)
    assert redirect.status_code == 404
    plain = client.get("/orders")
    assert plain.headers["Location"] == "/login?next=%2Forders"
    for response in (page, redirect):
        for url in re.findall(r'(?:action|href|src)="([^"]*)"', response.get_data(as_text=True)):
            assert not url.startswith(("//", "https:")) and script_name not in url, url


def test_the_sign_in_redirect_for_a_protected_page_names_only_our_path(app):
    response = app.test_client().get("/orders/new?x=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# -- pay-link tokens on every pay route ----------------------------------------------------


def pay_routes(app):
    """Every buyer route that takes a payment link's token. The save-a-card, subscribe and
    billing links are signed apart (their own salts) and refused in their own words: their
    tampered and expired links are tested in tests/test_customers.py and
    tests/test_subscription_stripe_calls.py."""
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if "token" in rule.arguments and rule.endpoint.startswith("pay.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def open_link(client, path, method):
    return client.get(path) if method == "GET" else post_form(client, path, {"card": "success"})


def test_every_pay_route_refuses_tampered_spliced_and_expired_tokens(
    live_app, stripe_http, make_order, monkeypatch
):
    first, second = make_order(), make_order(buyer_email="second@example.com")
    good = pay_link(live_app, first.id).removeprefix("/pay/")
    other = pay_link(live_app, second.id).removeprefix("/pay/")
    payload, stamp, signature = good.rsplit(".", 2)
    other_payload = other.rsplit(".", 2)[0]
    bad_tokens = {
        "spliced: another order's payload, this signature": f"{other_payload}.{stamp}.{signature}",
        "signature of another order": f"{payload}.{stamp}.{other.rsplit('.', 1)[1]}",
        "another key": PayLinks("not-our-key", 3600).token_for(first.id),
        "truncated": good[:-3],
        "garbage": "A" * 300,
        "markup": "<svg onload=alert(1)>",
    }
    routes = pay_routes(live_app)
    assert len(routes) >= 6
    client = live_app.test_client()
    for rule, method in routes:
        for how, token in bad_tokens.items():
            path = rule.replace("<token>", token)
            response = open_link(client, path, method)
            text = response.get_data(as_text=True)
            assert response.status_code == 404, f"{method} {rule}, {how}"
            assert "This payment link is not valid" in text, f"{method} {rule}, {how}"
            assert f"Order #{first.id}" not in text and f"Order #{second.id}" not in text
            assert "$25.00" not in text
            assert_no_live_markup(text, f"{method} {rule}, {how}")
    later = time.time() + live_app.config["PAY_LINK_MAX_AGE"] + 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    for rule, method in routes:
        response = open_link(client, rule.replace("<token>", good), method)
        assert response.status_code == 410, f"expired: {method} {rule}"
        assert "This payment link has expired" in response.get_data(as_text=True)
    assert stripe_http.calls == [], "a refused link never reaches Stripe"
    assert reload(live_app, first.id).state == "open"


# -- hostile text in the order form --------------------------------------------------------


def order_form(**overrides):
    return {
        "buyer_name": "Ada Lovelace",
        "buyer_email": "ada@example.com",
        "currency": "USD",
        "lines-0-description": "Analytical engine",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "25.00",
        **overrides,
    }


# Far past every field's length, within a form's FORM_MAX_BYTES (a larger body is refused
# unread: test_a_megabyte_order_form_is_refused_unread).
LONG = "<script>" + "x" * 200_000
REFUSED_ORDER_INPUT = [
    ({"buyer_name": "Ada\x00Lovelace"}, "control characters"),
    ({"buyer_name": "Ada \u202eecalevoL"}, "control characters"),
    ({"buyer_name": "Ada\nLovelace"}, "control characters"),
    ({"lines-0-description": "engine\x1b[31m"}, "control characters"),
    ({"lines-0-description": "\u2066engine\u2069"}, "control characters"),
    ({"buyer_email": "ada\x00@example.com"}, "Invalid email address"),
    ({"buyer_email": "<script>@example.com"}, "Invalid email address"),
    ({"buyer_email": "ada@example.com\r\nBcc: all@example.com"}, "Invalid email address"),
    ({"buyer_email": "a" * 300 + "@example.com"}, "Invalid email address"),
    ({"buyer_name": LONG}, "cannot be longer than 200 characters"),
    ({"lines-0-description": LONG}, "cannot be longer than 500 characters"),
    ({"buyer_email": LONG}, "Invalid email address"),
    ({"lines-0-unit_price": LONG}, "cannot be longer than 32 characters"),
    ({"lines-0-quantity": LONG}, "cannot be longer than 12 characters"),
    ({"currency": "<script>"}, "Not a valid choice"),
]


@pytest.mark.parametrize(
    ("overrides", "message"),
    REFUSED_ORDER_INPUT,
    ids=[f"{next(iter(o))}-{i}" for i, (o, _) in enumerate(REFUSED_ORDER_INPUT)],
)
def test_hostile_order_input_gets_a_clean_422_and_writes_nothing(
    app, signed_in, overrides, message
):
    response = post_form(signed_in(Role.STAFF), "/orders/new", order_form(**overrides))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in html.unescape(text)
    assert_no_live_markup(text, "re-rendered form")
    assert count(app, Order) == 0


def test_a_megabyte_order_form_is_refused_unread(app, signed_in):
    staff = signed_in(Role.STAFF)
    big = order_form(buyer_name="<script>" + "x" * 1_000_000)
    response = post_form(staff, "/orders/new", big)
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert "a form may be at most 256 KB" in text
    assert_no_live_markup(text, "413 page")
    assert count(app, Order) == 0


def test_hostile_order_text_is_escaped_everywhere_it_is_shown(app, signed_in):
    staff = signed_in(Role.STAFF)
    response = post_form(
        staff,
        "/orders/new",
        order_form(
            buyer_name=HOSTILE_NAME,
            buyer_email="o'hara+x@example.com",
            **{"lines-0-description": HOSTILE_LINE},
        ),
    )
    assert response.status_code == 303
    order_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        stored = db.session.get(Order, order_id)
        assert stored.buyer_name == HOSTILE_NAME  # kept as typed, never "cleaned"
    pages = {
        "order list": staff.get("/orders").get_data(as_text=True),
        "order rows (htmx)": staff.get("/orders", headers=HTMX).get_data(as_text=True),
        "search": staff.get("/orders", query_string={"q": "o'hara"}).get_data(as_text=True),
        "order page": staff.get(f"/orders/{order_id}").get_data(as_text=True),
        "pay page": app.test_client().get(pay_link(app, order_id)).get_data(as_text=True),
    }
    for where, text in pages.items():
        assert_no_live_markup(text, where)
        assert "&lt;script&gt;alert(&#34;n&#34;)&lt;/script&gt;" in text or (
            "&lt;script&gt;alert(&quot;n&quot;)&lt;/script&gt;" in text
        ), where
        assert "&amp;amp;" in text, where  # an entity typed as text stays text
    for where in ("order page", "pay page"):
        assert "&lt;svg onload=alert(&#39;l&#39;)&gt;" in pages[where], where


def test_hostile_search_text_is_echoed_escaped(signed_in):
    staff = signed_in(Role.SUPPORT)
    text = staff.get("/orders", query_string={"q": '"><script>alert(1)</script>'}).get_data(
        as_text=True
    )
    assert_no_live_markup(text, "search box")
    assert "&#34;&gt;&lt;script&gt;" in text or "&quot;&gt;&lt;script&gt;" in text


# -- hostile text from Stripe --------------------------------------------------------------


def test_hostile_text_from_stripe_is_escaped_on_staff_and_buyer_pages(app, signed_in, make_order):
    order = make_order(stripe_payment_intent_id="pi_hostile_1", state="processing")
    intent = {
        **stripe_example("payment_intent"),
        "id": "pi_hostile_1",
        "status": "requires_payment_method",
        "description": HOSTILE,
        "metadata": {"order_id": str(order.id), "note": HOSTILE},
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "message": HOSTILE,
        },
    }
    answer = send_event(app.test_client(), stripe_event("payment_intent.payment_failed", intent))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    # The buyer is told our sentence for Stripe's code; Stripe's own message is for staff.
    assert reload(app, order.id).last_payment_error == GENERIC_DECLINE
    support = signed_in(Role.SUPPORT)
    pages = {
        "order page": support.get(f"/orders/{order.id}").get_data(as_text=True),
        "pay page": app.test_client().get(pay_link(app, order.id)).get_data(as_text=True),
        "event log": support.get("/events").get_data(as_text=True),
    }
    pages["event page"] = support.get(
        re.search(r'href="(/events/\d+)"', pages["event log"]).group(1)
    ).get_data(as_text=True)
    for where, text in pages.items():
        assert_no_live_markup(text, where)
    assert "&lt;script&gt;" in pages["order page"]  # Stripe's message is shown, as text
    assert "alert(" not in pages["pay page"]  # and not to the buyer at all
    assert GENERIC_DECLINE in pages["pay page"]


# -- URLs ----------------------------------------------------------------------------------

BAD_URLS = [
    ("/orders/99999999999999999999", 404),
    ("/orders/2147483648", 404),
    ("/orders/-1", 404),
    ("/orders/1e3", 404),
    ("/orders/%00", 404),
    ("/events/99999999999999999999", 404),
    ("/events/99999999999999999999/raw", 404),
    ("/orders?older_than=-1", 400),
    ("/orders?older_than=99999999999999999999", 400),
    ("/orders?newer_than=%00", 400),
    ("/orders?state=%3Cscript%3Ealert(1)%3C/script%3E", 400),
    ("/orders?q=%00", 400),
    ("/orders?q=" + "x" * 5000, 400),
    ("/events?q=%3Cscript%3Ealert(1)%3C/script%3E", 400),
    ("/events?type=%3Cscript%3E", 400),
    ("/events?status=%00", 400),
    ("/pay/%3Cscript%3Ealert(1)%3C/script%3E", 404),
    ("/pay/" + "A" * 4000, 404),
    ("/pay/%00", 404),
    ("/static/../dashboard/config.py", 404),
    ("/static/%2e%2e/pyproject.toml", 404),
]


@pytest.mark.parametrize(("path", "status"), BAD_URLS, ids=[p[:48] for p, _ in BAD_URLS])
def test_hostile_urls_get_a_clean_answer_never_a_500(app, signed_in, path, status):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = signed_in(Role.ADMIN).get(path)
    assert response.status_code == status, response.get_data(as_text=True)[-500:]
    text = response.get_data(as_text=True)
    assert_no_live_markup(text, path)
    assert "Traceback" not in text


@pytest.mark.parametrize(
    "path",
    [
        "/orders/99999999999999999999/capture",
        "/orders/99999999999999999999/settle",
        "/admin/users/99999999999999999999/role",
        "/events/99999999999999999999/reprocess",
    ],
)
def test_hostile_ids_in_posts_are_a_404(app, signed_in, path):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = post_form(signed_in(Role.ADMIN), path, {"role": "staff", "amount": "1"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "email", ["staff\x00@shop.example", "staff@shop.example\u202e", "x" * 300 + "@shop.example"]
)
def test_hostile_sign_in_emails_are_refused_cleanly(app, make_user, email):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    make_user(Role.STAFF)
    response = login(app.test_client(), email)
    assert response.status_code == 422
    assert "That email and password do not match" not in response.get_data(as_text=True)


# -- CLI flags -----------------------------------------------------------------------------

BAD_EMAILS = [
    "<script>@shop.example",
    "a@b",
    "",
    "ana\x00@shop.example",
    "ana@shop.example\nBcc: x@shop.example",
    "x" * 300 + "@shop.example",
    "--role=admin",
]


@pytest.mark.parametrize("email", BAD_EMAILS, ids=range(len(BAD_EMAILS)))
def test_user_create_refuses_bad_emails_with_a_message_and_exit_1(app, email):
    result = app.test_cli_runner().invoke(
        args=["user", "create", "--role", "staff", "--password-stdin", "--", email],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and "email" in result.output.lower()
    assert count(app, User) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stripe", "sync", "--since", ""], "is not a duration"),
        (["stripe", "sync", "--since", "1h; rm -rf /"], "is not a duration"),
        (["stripe", "sync", "--since", "99999999999999999999d"], "longer than any calendar"),
        (["stripe", "sync", "--since", "\x00"], "is not a duration"),
        (["stripe", "sync", "--since", "1h", "--since", "45d"], "is more than 30d"),
        (["stripe", "sweep-holds", "--older-than", "yesterday"], "is not a duration"),
        (["stripe", "sweep-holds", "--within", "-5d"], "is not a duration"),
        (["stripe", "reprocess", "--older-than", "<script>"], "is not a duration"),
        (["outbox", "ack", "-1"], "No such option '-1'"),
        (["outbox", "ack", "0"], "0 is not in the range x>=1"),
        (["outbox", "ack", "<script>"], "is not a valid integer"),
        (["outbox", "list", "--limit", "0"], "Invalid value for '--limit'"),
        (["user", "set-role", "a@shop.example", "root"], "'root' is not one of"),
    ],
)
def test_nonsense_cli_flags_exit_2_with_a_clear_message(app, args, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_reprocess_of_a_hostile_event_id_says_it_is_unknown(app):
    result = app.test_cli_runner().invoke(args=["stripe", "reprocess", "--event", "<script>evt_1"])
    assert result.exit_code == 1, result.output
    assert "No stored event" in result.output


# -- secrets never leave -------------------------------------------------------------------

CARD = "4242424242424242"


@pytest.fixture
def every_logger_at_debug(caplog):
    """caplog at DEBUG on the root and on every logger that exists, restored after."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    yield caplog
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled


def test_a_full_flow_leaks_no_secret_to_logs_pages_or_errors(
    sandbox_app, localstripe_url, signed_in, every_logger_at_debug, capfd
):
    app = sandbox_app
    failing = add_failing_route(app, RuntimeError("the database went away"))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.config["STRIPE_PUBLISHABLE_KEY"] = "pk_test_publishable"
    bodies: dict[str, str] = {}

    def keep(where, response):
        bodies[where] = response.get_data(as_text=True)
        return response

    staff = signed_in(Role.STAFF)
    created = keep("create order", post_form(staff, "/orders/new", order_form()))
    order_id = int(created.headers["Location"].rsplit("/", 1)[1])
    buyer = app.test_client()
    keep("pay page before paying", buyer.get(pay_link(app, order_id)))
    keep("paid", pay_with_test_card(app, order_id))
    keep("pay page after paying", buyer.get(pay_link(app, order_id)))
    assert reload(app, order_id).state == "authorized"
    keep(
        "capture",
        move_money(staff, f"/orders/{order_id}/capture", {"amount": "25.00"}, headers=HTMX),
    )
    refund = {"amount": "5.00", "reason": "requested_by_customer"}
    keep("refund", move_money(staff, f"/orders/{order_id}/refund", refund, headers=HTMX))
    keep("settle", post_form(staff, f"/orders/{order_id}/settle", headers=HTMX))
    assert reload(app, order_id).state == "partially_refunded"

    intent = stripe_pi(localstripe_url, reload(app, order_id).stripe_payment_intent_id)
    assert "_secret_" in intent["client_secret"]  # what Stripe sends does carry it
    event = stripe_event("payment_intent.succeeded", intent)
    keep("webhook", send_event(app.test_client(), event))
    tampered = {**event, "id": "evt_tampered"}
    keep("webhook bad signature", send_event(app.test_client(), tampered, secret="whsec_wrong"))
    for path in ("/orders", f"/orders/{order_id}", "/events", "/no-such-page"):
        keep(path, staff.get(path))
    for row in re.findall(r'href="(/events/\d+)"', bodies["/events"]):
        keep(row, staff.get(row))
        keep(row + "/raw", staff.get(row + "/raw"))
    keep("csrf error", staff.post(f"/orders/{order_id}/capture", data={"amount": "1"}))
    assert keep("500", staff.get(failing)).status_code == 500
    assert "Something went wrong on our side" in bodies["500"]
    assert "the database went away" not in bodies["500"]

    out, err = capfd.readouterr()
    records = every_logger_at_debug.records
    assert any(r.name.startswith("stripe") for r in records), "the SDK's logging was captured"
    logged = "\n".join(
        [every_logger_at_debug.text, out, err]
        + [r.getMessage() for r in records]
        + [repr(r.__dict__) for r in records]
    )
    forbidden = [SANDBOX_KEY, "sk_test_", "sk_live_", WEBHOOK_SECRET, "whsec_", "_secret_"]
    for secret in forbidden:
        assert secret not in logged, f"{secret!r} in the logs"
        for where, body in bodies.items():
            assert secret not in body, f"{secret!r} in {where}"
    assert CARD not in logged, "a card number in the logs"
    for where, body in bodies.items():
        if where == "pay page before paying":  # the sandbox's list of localstripe's test cards
            assert 'name="card"' in body
            continue
        assert CARD not in body, f"a card number in {where}"
