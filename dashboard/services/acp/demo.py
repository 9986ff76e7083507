"""What `flask acp demo` needs before it can buy: a product in the catalog and a new agent
(its API key is shown once, so each run registers its own). Sandbox only."""

from __future__ import annotations

from dashboard.extensions import db
from dashboard.models import Product, utcnow
from dashboard.services import agents

DEMO_PRODUCT = "sandbox-mug"
# Nothing listens there: the demo agent's order webhooks are kept, retried and given up.
DEMO_WEBHOOK_URL = "http://127.0.0.1:9/agent-webhooks"


def prepare() -> tuple[str, str]:
    """(the new demo agent's API key, the demo product's id), flushed."""
    product = db.session.get(Product, DEMO_PRODUCT)
    if product is None:
        product = Product(
            id=DEMO_PRODUCT,
            title="Sandbox mug",
            description="A mug that only exists in the sandbox.",
            unit_amount=1800,
            currency="USD",
        )
        db.session.add(product)
    product.active = True
    product.stock = None
    made = agents.register(f"Sandbox demo agent {utcnow():%Y-%m-%d %H:%M:%S.%f}", DEMO_WEBHOOK_URL)
    db.session.flush()
    return made.api_key, product.id
