"""Blueprints: parse input, check the role, call one service, render."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, ValidationError

from dashboard.domain.ids import MAX_ROW_ID
from dashboard.views import (
    acp,
    admin,
    agent_deliveries,
    agents_admin,
    auth,
    customers,
    disputes,
    events,
    exports,
    health,
    home,
    orders,
    password_reset,
    pay,
    payments,
    products,
    sandbox_mail,
    save_card,
    subscribe,
    subscriptions,
    two_factor,
    wallets,
    webhooks,
)
from dashboard.views.access import role_flags


class UndeclaredRoute(RuntimeError):
    """A route that says neither who may call it nor that it is public."""


class RowIdConverter(IntegerConverter):
    """`<int:...>` in our routes: a number no row can have (ids are 32-bit integer columns)
    matches no route (404), rather than making the database raise (a 500)."""

    def to_python(self, value: str) -> int:
        number: int = super().to_python(value)
        if number > MAX_ROW_ID:
            raise ValidationError()
        return number


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = RowIdConverter
    app.context_processor(role_flags)
    for module in (
        auth,
        password_reset,
        two_factor,
        home,
        orders,
        payments,
        pay,
        admin,
        agents_admin,
        products,
        agent_deliveries,
        health,
        webhooks,
        events,
        disputes,
        exports,
        sandbox_mail,
        acp,
        customers,
        save_card,
        wallets,
        subscriptions,
        subscribe,
    ):
        app.register_blueprint(module.bp)
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, "required_roles")
    ]
    if undeclared:
        raise UndeclaredRoute(f"routes without an access rule: {', '.join(sorted(undeclared))}")
