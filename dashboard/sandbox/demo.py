"""Demo data for the sandbox: three logins and a handful of orders, written once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from dashboard.domain.orders import LineDraft
from dashboard.extensions import db
from dashboard.models import Order, Role
from dashboard.services import orders, users

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


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: Role
    password: str


def demo_logins(passwords: dict[str, str]) -> list[DemoLogin]:
    return [DemoLogin(f"{role.value}@{DEMO_DOMAIN}", role, passwords[role.value]) for role in Role]


def seed(passwords: dict[str, str]) -> bool:
    """Create the demo users and orders unless they exist; reset the demo passwords.

    Returns whether anything new was written. Running it again changes nothing else.
    """
    created = False
    for login in demo_logins(passwords):
        user = users.find_by_email(login.email)
        if user is None:
            users.create_user(login.email, login.password, login.role)
            created = True
        elif not user.check_password(login.password):
            user.set_password(login.password)
    demo_buyers = [email for _, email, _, _ in DEMO_ORDERS]
    existing = db.session.scalar(
        select(func.count()).select_from(Order).where(Order.buyer_email.in_(demo_buyers))
    )
    if existing:
        return created
    staff = users.find_by_email(f"{Role.STAFF.value}@{DEMO_DOMAIN}")
    for name, email, currency, lines in DEMO_ORDERS:
        orders.create_order(
            actor=staff, buyer_name=name, buyer_email=email, currency=currency, lines=lines
        )
    return True
