"""One handler module per Stripe object; importing this package registers them all."""

from dashboard.services.inbox.handlers import (  # noqa: F401 (each module registers itself)
    charge,
    checkout_session,
    customer,
    dispute,
    invoice,
    payment_intent,
    refund,
    subscription,
)
