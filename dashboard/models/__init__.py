"""Database tables (SQLAlchemy 2.0 typed models), one module per part of the dashboard:
`users` (and their alert choices), `sign_in` (attempts, throttles, sessions), `two_factor`
(authenticators, recovery codes, sign-ins waiting for their second step), `settings` (the
admin's), `orders` (with disputes and the timeline), `payments` (the request ledger, the
outbox, payment attempts, money movements), `relay` (outgoing emails, every delivery
attempt), `inbox` (Stripe's events), `buyer` (the buyer pages' calls to Stripe),
`saved_cards` (the Stripe Customer of each buyer email), `overview` (the home page's
rollups).
Everything is importable from here, the one name the rest of the code uses. Schema changes
go through migrations."""

from dashboard.models.base import UTCDateTime, utcnow
from dashboard.models.buyer import BuyerStripeCall
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
from dashboard.models.saved_cards import BuyerCustomer
from dashboard.models.settings import Setting
from dashboard.models.sign_in import LoginAttempt, SignInSession, SignInThrottle
from dashboard.models.two_factor import PendingSignIn, RecoveryCode, TwoFactorCredential
from dashboard.models.users import AlertChoice, Role, User

__all__ = [
    "IN_FLIGHT",
    "MONEY_ACTIONS",
    "REPROCESSABLE",
    "RETRYABLE",
    "AlertChoice",
    "BuyerCustomer",
    "BuyerStripeCall",
    "DeclineBucket",
    "DeliveryOutcome",
    "Dispute",
    "EventStatus",
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
    "PendingSignIn",
    "RecoveryCode",
    "RequestStatus",
    "Role",
    "Setting",
    "SignInSession",
    "SignInThrottle",
    "StripeEvent",
    "StripeRequest",
    "SyncWatermark",
    "TimelineEntry",
    "TimelineKind",
    "TwoFactorCredential",
    "UTCDateTime",
    "User",
    "WebhookRejection",
    "utcnow",
]
