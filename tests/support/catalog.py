"""A product and an AI agent made through the real services, committed: rows that exist
for the tests that walk every page or route."""

from __future__ import annotations

from flask import Flask

from dashboard.domain.catalog import parse_product
from dashboard.extensions import db
from dashboard.services import agents, products

LONG_TITLE = "A rather long product title that has to wrap on a narrow phone screen somehow"


def make_product(app: Flask, product_id: str = "mug-blue", title: str = LONG_TITLE) -> str:
    with app.app_context():
        draft = parse_product(id=product_id, title=title, price="12.50", currency="usd")
        products.create(draft)
        db.session.commit()
    return product_id


def make_agent(app: Flask, name: str = "Shopping Agent") -> int:
    with app.app_context():
        agent_id = agents.register(
            name, "https://agent.example/a/rather/long/path/for/its/order/events/webhooks"
        ).agent.id
        db.session.commit()
    return agent_id
