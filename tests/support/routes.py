"""Every route of the app's URL map as a concrete path, with ids of rows that exist: what
the tests that cover every route (CSRF, headers, caching, hostile query strings) walk."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import (
    Dispute,
    Order,
    Plan,
    Role,
    SavedPaymentMethod,
    StripeEvent,
    Subscription,
    User,
)
from dashboard.services import customers, password_reset
from tests.support.catalog import make_agent, make_product
from tests.support.stripe import send_event, stripe_event, stripe_example
from tests.support.web import pay_link

VIEWS = Path(__file__).resolve().parents[2] / "dashboard" / "views"


def route_paths(
    app: Flask, make_order: Callable[..., Order], make_user: Callable[..., User]
) -> tuple[Order, User, list[tuple[str, str, str]]]:
    """Every (endpoint, method, concrete path) of the app, with ids that exist."""
    order = make_order()
    target = make_user(Role.SUPPORT, email="target@shop.example")
    event = stripe_event(
        "payment_intent.processing",
        {**stripe_example("payment_intent"), "metadata": {"order_id": str(order.id)}},
    )
    assert send_event(app.test_client(), event).status_code == 200
    with app.app_context():
        event_row = db.session.scalar(select(StripeEvent.id))
    with app.app_context():
        reset_token = password_reset.token_for(db.session.get(User, target.id))
    with app.test_request_context():
        buyer = customers.find_or_create("routes@example.com", "Route Buyer")
        card = SavedPaymentMethod(customer_id=buyer.id, stripe_payment_method_id="pm_routes")
        db.session.add(card)
        db.session.commit()
        customer_id, method_id = buyer.id, card.id
        plan = Plan(
            name="Route plan",
            amount=1500,
            currency="USD",
            interval="month",
            interval_count=1,
            stripe_product_id="prod_routes",
            stripe_price_id="price_routes",
        )
        db.session.add(plan)
        db.session.flush()
        subscription = Subscription(
            stripe_subscription_id="sub_routes",
            stripe_customer_id="cus_routes",
            customer_id=buyer.id,
            plan_id=plan.id,
            status="active",
        )
        db.session.add(subscription)
        db.session.commit()
        plan_id, subscription_id = plan.id, subscription.id
        dispute = Dispute(
            order_id=order.id,
            stripe_dispute_id="dp_routes",
            amount=1000,
            currency=order.currency,
            reason="fraudulent",
            status="needs_response",
        )
        db.session.add(dispute)
        db.session.commit()
        dispute_id = dispute.id
    values: dict[str, Any] = {
        "reset_token": reset_token,
        "order_id": order.id,
        "user_id": target.id,
        "event_id": event_row,
        "customer_id": customer_id,
        "method_id": method_id,
        "plan_id": plan_id,
        "subscription_id": subscription_id,
        "dispute_id": dispute_id,
        "kind": "orders",
        "token": pay_link(app, order.id).removeprefix("/pay/"),
        "product_id": make_product(app),
        "agent_id": make_agent(app),
        "session_id": "cs_not_a_session",
    }
    routes = []
    for rule in app.url_map.iter_rules():
        unknown = rule.arguments - set(values) - {"filename"}
        assert not unknown, f"{rule.rule}: give this test a value for {unknown}"
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values.get(name, "app.css")), path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, path))
    return order, target, routes


def query_parameters() -> set[str]:
    """Every query-string parameter a view reads, found in the views' source: the names
    given to `request.args.get(...)` and to the helpers that read one (`cursor_arg`,
    `search_arg` reads `q`). A new parameter is found here without anyone listing it."""
    names = set()
    for path in VIEWS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            reads_args = (
                called == "get"
                and isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Attribute)
                and func.value.attr == "args"
            )
            if (reads_args or called == "cursor_arg") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
            if called == "search_arg":
                names.add("q")
    return names
