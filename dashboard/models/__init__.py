"""Database tables (SQLAlchemy 2.0 typed models), one module per part of the dashboard:
`users` (and their alert choices), `sign_in` (attempts, throttles, sessions), `two_factor`
(authenticators, recovery codes, sign-ins waiting for their second step), `settings` (the
admin's), `orders` (with disputes and the timeline), `payments` (the request ledger, the
outbox, payment attempts, money movements), `relay` (outgoing emails, every delivery
attempt), `inbox` (Stripe's events), `buyer` (the buyer pages' calls to Stripe),
`catalog` (products), `agents` (AI agents buying through the checkout API, and their
rate-limit counters), `acp` (agents' checkout sessions, their Idempotency-Keys and
requests), `agent_webhooks` (order events to agents, and every attempt to deliver them),
`customers` (one per buyer email: their saved payment methods and timeline), `subscriptions`
(plans, subscriptions, their invoices, staff requests and timeline), `overview` (the home
page's rollups).
Everything is importable from here, the one name the rest of the code uses. Schema changes
go through migrations."""

from dashboard.models.acp import (
    AgentCheckoutRequest,
    AgentCheckoutSession,
    AgentIdempotencyKey,
    KeyStatus,
)
from dashboard.models.agent_webhooks import AgentWebhook, AgentWebhookAttempt
from dashboard.models.agents import Agent, AgentRequestCount
from dashboard.models.base import UTCDateTime, utcnow
from dashboard.models.buyer import BuyerStripeCall
from dashboard.models.catalog import Product
from dashboard.models.customers import (
    Customer,
    CustomerTimelineEntry,
    PaymentMethodStatus,
    SavedPaymentMethod,
)
from dashboard.models.inbox import (
    REPROCESSABLE,
    RETRYABLE,
    EventStatus,
    StripeEvent,
    SyncWatermark,
    WebhookRejection,
)
from dashboard.models.orders import Dispute, Order, OrderLine, TimelineEntry, TimelineKind
from dashboard.models.overview import DeclineBucket, OverviewBucket
from dashboard.models.payments import (
    IN_FLIGHT,
    MONEY_ACTIONS,
    MoneyMovement,
    MovementKind,
    OutboxEvent,
    PaymentAttempt,
    RequestStatus,
    StripeRequest,
)
from dashboard.models.relay import DeliveryOutcome, OutboxDelivery, OutboxMessage
from dashboard.models.settings import Setting
from dashboard.models.sign_in import LoginAttempt, SignInSession, SignInThrottle
from dashboard.models.subscriptions import (
    Plan,
    Subscription,
    SubscriptionEntry,
    SubscriptionInvoice,
    SubscriptionRequest,
)
from dashboard.models.two_factor import PendingSignIn, RecoveryCode, TwoFactorCredential
from dashboard.models.users import AlertChoice, Role, User

__all__ = [
    "IN_FLIGHT",
    "MONEY_ACTIONS",
    "REPROCESSABLE",
    "RETRYABLE",
    "Agent",
    "AgentCheckoutRequest",
    "AgentCheckoutSession",
    "AgentIdempotencyKey",
    "AgentRequestCount",
    "AgentWebhook",
    "AgentWebhookAttempt",
    "AlertChoice",
    "BuyerStripeCall",
    "Customer",
    "CustomerTimelineEntry",
    "DeclineBucket",
    "DeliveryOutcome",
    "Dispute",
    "EventStatus",
    "KeyStatus",
    "LoginAttempt",
    "MoneyMovement",
    "MovementKind",
    "Order",
    "OrderLine",
    "OutboxDelivery",
    "OutboxEvent",
    "OutboxMessage",
    "OverviewBucket",
    "PaymentAttempt",
    "PaymentMethodStatus",
    "PendingSignIn",
    "Plan",
    "Product",
    "RecoveryCode",
    "RequestStatus",
    "Role",
    "SavedPaymentMethod",
    "Setting",
    "SignInSession",
    "SignInThrottle",
    "StripeEvent",
    "StripeRequest",
    "Subscription",
    "SubscriptionEntry",
    "SubscriptionInvoice",
    "SubscriptionRequest",
    "SyncWatermark",
    "TimelineEntry",
    "TimelineKind",
    "TwoFactorCredential",
    "UTCDateTime",
    "User",
    "WebhookRejection",
    "utcnow",
]
