"""Demo data for the sandbox: payments in every interesting state, made through localstripe."""

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Order, StripeRequest
from dashboard.sandbox import demo

PASSWORDS = {"admin": "a" * 16, "staff": "s" * 16, "support": "u" * 16}


def test_demo_orders_are_paid_into_each_state_once(sandbox_app):
    with sandbox_app.app_context():
        demo.seed(PASSWORDS)
        db.session.commit()
        assert demo.seed_payments() == 4
        states = dict(db.session.execute(select(Order.buyer_email, Order.state)).all())
        assert states == {
            "ada@buyer.example": "partially_refunded",
            "grace@buyer.example": "authorized",
            "otomo@buyer.example": "captured",
            "fatima@buyer.example": "voided",
            "emilie@buyer.example": "open",
        }
        ada = db.session.scalar(select(Order).where(Order.buyer_email == "ada@buyer.example"))
        assert 0 < ada.amount_refunded < ada.amount_captured
        calls = db.session.scalar(select(func.count()).select_from(StripeRequest))

        assert demo.seed(PASSWORDS) is False
        assert demo.seed_payments() == 0
        assert db.session.scalar(select(func.count()).select_from(StripeRequest)) == calls
        assert db.session.scalar(select(func.count()).select_from(Order)) == 5
