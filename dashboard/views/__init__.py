"""Blueprints: parse input, check the role, call one service, render."""

from __future__ import annotations

from flask import Flask

from dashboard.views import admin, auth, events, health, orders, pay, payments, webhooks


class UndeclaredRoute(RuntimeError):
    """A route that says neither who may call it nor that it is public."""


def register_blueprints(app: Flask) -> None:
    for module in (auth, orders, payments, pay, admin, health, webhooks, events):
        app.register_blueprint(module.bp)
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, "required_roles")
    ]
    if undeclared:
        raise UndeclaredRoute(f"routes without an access rule: {', '.join(sorted(undeclared))}")
