"""Saving a card without paying: staff send a buyer a "save a card" link (signed, expiring,
naming one customer); the buyer saves a card on our page (a SetupIntent with
`usage=off_session`, confirmed by Stripe.js, or a test card in the sandbox) or on Stripe
Checkout in setup mode; the card joins the customer's saved payment methods, where a new
hold can use it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import Customer, Order, SavedPaymentMethod, TimelineKind, User, utcnow
from dashboard.payments.customer_calls import SetupIntentSnapshot, SetupSessionSnapshot
from dashboard.payments.gateway import gateway
from dashboard.services import customers, mail, payment_methods, timeline

SALT = "dashboard.save-card-link.v1"
# What the buyer agrees to, beside the card form; the consent is to exactly these words.
CONSENT_TEXT = (
    "Keep this card on file so the shop can place a hold or take a payment you agreed to "
    "without asking you each time. You can ask the shop to remove it."
)
SOURCE = "save-a-card link"


class SetupLinkInvalid(Exception):
    """Tampered, truncated, signed with another key, or naming no customer."""


class SetupLinkExpired(Exception):
    """Genuine but older than PAY_LINK_MAX_AGE."""


class SetupMismatch(Exception):
    """Stripe's SetupIntent or session is not this link's (another customer's, or not
    one of ours): nothing is recorded."""


@dataclass(frozen=True)
class SetupLink:
    customer: Customer
    nonce: str  # one per link sent: the SetupIntent's idempotency key and metadata

    @property
    def idempotency_key(self) -> str:
        return f"save-card-{self.customer.id}-{self.nonce}"

    @property
    def metadata(self) -> dict[str, str]:
        return {"customer_id": str(self.customer.id), "save_card_link": self.nonce}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_for(customer_id: int, nonce: str) -> str:
    return _serializer().dumps({"customer": customer_id, "nonce": nonce})


def link_from(token: str) -> SetupLink:
    try:
        payload = _serializer().loads(token, max_age=current_app.config["PAY_LINK_MAX_AGE"])
    except SignatureExpired as error:
        raise SetupLinkExpired from error
    except BadSignature as error:
        raise SetupLinkInvalid from error
    if not isinstance(payload, dict):
        raise SetupLinkInvalid
    customer_id, nonce = payload.get("customer"), payload.get("nonce")
    if not isinstance(customer_id, int) or isinstance(customer_id, bool):
        raise SetupLinkInvalid
    if not isinstance(nonce, str) or not nonce.isalnum() or len(nonce) > 64:
        raise SetupLinkInvalid
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise SetupLinkInvalid
    return SetupLink(customer, nonce)


def url_for_token(token: str) -> str:
    return f"{str(current_app.config['PUBLIC_BASE_URL']).rstrip('/')}/save-card/{token}"


def send_link_to(customer_id: int, actor: User | None) -> str | None:
    """send_link for the customer of this id; None if there is none."""
    customer = db.session.get(Customer, customer_id)
    return send_link(customer, actor) if customer is not None else None


def send_link(customer: Customer, actor: User | None) -> str:
    """Email the buyer a new "save a card" link (through the outbox); returns it, for staff
    to pass on by hand too."""
    nonce = secrets.token_hex(16)
    link = url_for_token(token_for(customer.id, nonce))
    mail.queue_email(
        customer.email,
        "Save a card with the shop",
        f"Hello {customer.name or customer.email},\n\n"
        "The shop asks you to save a card with it, so it can place a hold or take a payment "
        "you agreed to without asking you each time. Nothing is charged now.\n\n"
        f"Save your card here:\n{link}\n\nYou can ask the shop to remove it at any time.\n",
        kind="save_card_link",
        dedupe_key=f"{customer.id}:{nonce}",
    )
    customers.note(
        customer,
        TimelineKind.OUTBOX,
        f"Save-a-card link emailed to {customer.email}",
        actor=actor,
        data={"notice": "save_card_link", "to": customer.email},
    )
    return link


def open_setup(link: SetupLink) -> SetupIntentSnapshot:
    """The link's SetupIntent: made once per link (the same key answers the same one)."""
    stripe_customer = customers.ensure_stripe_customer(link.customer)
    return gateway().create_setup_intent(
        customer_id=stripe_customer, metadata=link.metadata, idempotency_key=link.idempotency_key
    )


def sandbox_save(link: SetupLink, card_number: str) -> SavedPaymentMethod | None:
    """The sandbox's card form: a test card confirms the link's SetupIntent."""
    intent = open_setup(link)
    method = gateway().sandbox_card_payment_method(card_number)
    confirmed = gateway().sandbox_confirm_setup_intent(intent.id, method)
    return finish(link, confirmed)


def finish_intent(link: SetupLink, setup_intent_id: str) -> SavedPaymentMethod | None:
    """The return page after Stripe.js confirmed: what Stripe says the SetupIntent saved."""
    return finish(link, gateway().retrieve_setup_intent(setup_intent_id))


def start_checkout(link: SetupLink, success_url: str, cancel_url: str) -> str:
    """Stripe Checkout in setup mode for the link; the URL to send the buyer to."""
    stripe_customer = customers.ensure_stripe_customer(link.customer)
    session = gateway().create_setup_session(
        customer_id=stripe_customer,
        currency=_currency(link.customer),
        success_url=success_url,
        cancel_url=cancel_url,
        metadata=link.metadata,
        idempotency_key=f"{link.idempotency_key}-checkout",
    )
    if session.url is None:
        raise SetupMismatch("Stripe gave no page to send the buyer to.")
    return session.url


def finish_checkout(link: SetupLink, session_id: str) -> SavedPaymentMethod | None:
    session: SetupSessionSnapshot = gateway().retrieve_setup_session(session_id)
    if session.metadata.get("save_card_link") != link.nonce or session.setup_intent_id is None:
        raise SetupMismatch("This Stripe page was not this link's.")
    return finish(link, gateway().retrieve_setup_intent(session.setup_intent_id))


def finish(link: SetupLink, intent: SetupIntentSnapshot) -> SavedPaymentMethod | None:
    """Keep the card a succeeded SetupIntent of this link saved (None if it has not
    succeeded: the page says so). A SetupIntent of another link or customer is refused."""
    customer = link.customer
    if (
        intent.metadata.get("save_card_link") != link.nonce
        or intent.customer_id != customer.stripe_customer_id
    ):
        raise SetupMismatch("This card setup was not this link's.")
    if intent.status != "succeeded" or intent.payment_method_id is None:
        return None
    method = gateway().retrieve_payment_method(intent.payment_method_id)
    kept = payment_methods.keep(
        customer, method.id, card=method.card, consent_at=utcnow(), source=SOURCE
    )
    _offer_to_holds(customer, kept)
    return kept


# Orders whose hold a saved card can renew (re-authorize, services/payments/renewal.py).
_RENEWABLE = (
    OrderState.AUTHORIZED.value,
    OrderState.PARTLY_CAPTURED.value,
    OrderState.EXPIRED.value,
)


def _offer_to_holds(customer: Customer, method: SavedPaymentMethod) -> None:
    """The customer's holds with no card kept can now be re-authorized with this one."""
    waiting = db.session.scalars(
        select(Order).where(
            Order.customer_id == customer.id,
            Order.saved_payment_method_id.is_(None),
            Order.state.in_(_RENEWABLE),
        )
    )
    for order in waiting:
        order.saved_payment_method_id = method.stripe_payment_method_id
        order.stripe_customer_id = customer.stripe_customer_id
        timeline.append(
            order,
            TimelineKind.STATE_CHANGE,
            "The buyer saved a card from a save-a-card link: a new hold can use it",
            data={"payment_method": method.stripe_payment_method_id, "source": SOURCE},
        )


def _currency(customer: Customer) -> str:
    """The currency of the customer's latest order (Checkout needs one in setup mode)."""
    latest = db.session.scalar(
        select(Order.currency)
        .where(Order.customer_id == customer.id)
        .order_by(Order.id.desc())
        .limit(1)
    )
    return latest or "usd"
