"""Demo data for the sandbox: three logins, a handful of orders and a small product catalog
(what staff add as order lines and AI agents buy), written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from dashboard.domain.catalog import ProductDraft
from dashboard.domain.orders import LineDraft, OrderState
from dashboard.extensions import db
from dashboard.models import Order, Role
from dashboard.services import orders, products, sandbox_payments, users
from dashboard.services.payments import staff
from dashboard.services.payments.results import ActionResult
from dashboard.transactions import unit_of_work

DEMO_DOMAIN = "demo.example"
DEMO_ORDERS: list[tuple[str, str, str, list[LineDraft]]] = [
    (
        "Ada Lovelace",
        "ada@buyer.example",
        "USD",
        [
            LineDraft("Analytical engine, hand-cranked", 1, 125_000),
            LineDraft("Punch cards", 3, 450),
        ],
    ),
    ("Grace Hopper", "grace@buyer.example", "USD", [LineDraft("Nanosecond wire", 12, 99)]),
    ("Katsuhiro Otomo", "otomo@buyer.example", "JPY", [LineDraft("Capsule toy", 4, 500)]),
    (
        "Fatima Al-Fihri",
        "fatima@buyer.example",
        "KWD",
        [LineDraft("Manuscript binding", 1, 12_345)],
    ),
    ("Émilie du Châtelet", "emilie@buyer.example", "EUR", [LineDraft("Translation", 2, 4_999)]),
]

DEMO_PRODUCTS = [
    ProductDraft("punch-cards", "Punch cards", "A box of 80-column cards.", 450, "USD", 200),
    ProductDraft("nanosecond-wire", "Nanosecond wire", "11.8 inches of it.", 99, "USD", None),
    ProductDraft("capsule-toy", "Capsule toy", "One at random.", 500, "JPY", 40),
    ProductDraft("translation", "Translation", "Of one book, annotated.", 4_999, "EUR", None),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: Role
    password: str


def demo_logins(passwords: dict[str, str]) -> list[DemoLogin]:
    return [DemoLogin(f"{role.value}@{DEMO_DOMAIN}", role, passwords[role.value]) for role in Role]


def seed(passwords: dict[str, str]) -> bool:
    """Create the demo users, products and orders unless they exist; reset the demo
    passwords.

    Returns whether anything new was written. Running it again changes nothing else.
    """
    created = False
    for login in demo_logins(passwords):
        user = users.find_by_email(login.email)
        if user is None:
            users.create_user(login.email, login.password, login.role)
            created = True
        elif not user.check_password(login.password):
            users.set_password(user, login.password)  # ends the old password's sessions
    for draft in DEMO_PRODUCTS:
        if products.find(draft.id) is None:
            products.create(draft)
            created = True
    demo_buyers = [email for _, email, _, _ in DEMO_ORDERS]
    existing = db.session.scalar(
        select(func.count()).select_from(Order).where(Order.buyer_email.in_(demo_buyers))
    )
    if existing:
        return created
    clerk = users.find_by_email(f"{Role.STAFF.value}@{DEMO_DOMAIN}")
    for name, email, currency, lines in DEMO_ORDERS:
        orders.create_order(
            actor=clerk, buyer_name=name, buyer_email=email, currency=currency, lines=lines
        )
    return True


# What the demo shows for each buyer, played through localstripe with the real services.
DEMO_PAYMENTS: dict[str, str] = {
    "ada@buyer.example": "partially_refunded",
    "grace@buyer.example": "authorized",
    "otomo@buyer.example": "captured",
    "fatima@buyer.example": "voided",
    # emilie@buyer.example stays open: her pay link is there to try.
}


class DemoPaymentFailed(RuntimeError):
    """localstripe did not do what the demo expected; the message says which step."""


def seed_payments() -> int:
    """Pay the demo orders that are still open, through the gateway (localstripe).

    Each step is a unit of work of its own, so an interrupted run resumes where it stopped.
    Returns how many orders were moved.
    """
    clerk = users.find_by_email(f"{Role.STAFF.value}@{DEMO_DOMAIN}")
    if clerk is None:
        raise DemoPaymentFailed("Seed the demo users first.")
    moved = 0
    for email, goal in DEMO_PAYMENTS.items():
        order = db.session.scalar(select(Order).where(Order.buyer_email == email))
        if order is None or order.state != OrderState.OPEN.value or order.stripe_payment_intent_id:
            continue
        steps: list[Callable[[Order], ActionResult]] = [
            lambda o: sandbox_payments.pay_with_test_card(o.id, "success")
        ]
        if goal in ("captured", "partially_refunded"):
            steps.append(lambda o: staff.capture_hold(o.id, o.amount_capturable, clerk))
        if goal == "partially_refunded":
            steps.append(
                lambda o: staff.refund_payment(
                    o.id, o.amount_captured // 4, "requested_by_customer", clerk
                )
            )
        if goal == "voided":
            steps.append(lambda o: staff.void_hold(o.id, "requested_by_customer", clerk))
        for step in steps:
            with unit_of_work():
                result = step(order)
            if not result.ok:
                raise DemoPaymentFailed(f"Demo order {order.number}: {result.message}")
        moved += 1
    return moved
