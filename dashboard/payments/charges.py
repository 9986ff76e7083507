"""What a payment is, read from Stripe's charges, balance transactions and refunds: the
card, its checks, Radar's verdict, the fee and net, as plain facts the order page shows.

Like `snapshots`, nothing here calls Stripe: the same readers take API answers (expanded
where the gateway asked for it) and webhook payloads. Every value is checked for its type
and shape before it is kept, so a hostile or garbled payload yields "not reported", never a
crash or markup; a field Stripe left out stays None and is shown as such, never guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from dashboard.domain.stripe_mapping import ChargeStatus, RefundStatus
from dashboard.payments import stripe_values as v

BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "interac": "Interac",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}
WALLETS = {
    "amex_express_checkout": "Amex Express Checkout",
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
    "link": "Link",
    "masterpass": "Masterpass",
    "samsung_pay": "Samsung Pay",
    "visa_checkout": "Visa Checkout",
}


@dataclass(frozen=True)
class Card:
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    funding: str | None = None  # credit, debit, prepaid, unknown
    country: str | None = None  # where the card was issued
    wallet: str | None = None  # apple_pay, google_pay, link, ...
    network: str | None = None

    @property
    def label(self) -> str:
        """How people name the card: "Visa •••• 4242" (or as much of it as is known)."""
        brand = BRANDS.get(self.brand or "", (self.brand or "card").replace("_", " ").title())
        return f"{brand} •••• {self.last4}" if self.last4 else brand

    @property
    def wallet_label(self) -> str | None:
        if self.wallet is None:
            return None
        return WALLETS.get(self.wallet, self.wallet.replace("_", " ").title())


@dataclass(frozen=True)
class ChargeFacts:
    """One attempt to take the buyer's money (a Stripe charge), as far as Stripe said."""

    id: str
    payment_intent_id: str | None = None
    status: str | None = None  # succeeded, pending, failed
    amount: int | None = None
    amount_captured: int | None = None
    currency: str | None = None
    created: int | None = None  # Stripe's Unix time
    livemode: bool = False
    card: Card | None = None
    three_d_secure: str | None = None  # authenticated, attempt_acknowledged, failed, ...
    three_d_secure_version: str | None = None
    cvc_check: str | None = None  # pass, fail, unavailable, unchecked
    address_line1_check: str | None = None
    address_postal_code_check: str | None = None
    network_status: str | None = None  # approved_by_network, declined_by_network, ...
    outcome_type: str | None = None  # authorized, issuer_declined, blocked, ...
    outcome_reason: str | None = None
    risk_level: str | None = None  # normal, elevated, highest, not_assessed, unknown
    risk_score: int | None = None  # 0-100, Radar for Fraud Teams only
    seller_message: str | None = None
    failure_code: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    statement_descriptor: str | None = None
    receipt_email: str | None = None
    balance_transaction_id: str | None = None
    # What the card network granted of what the PaymentIntent asked for (`available` or
    # `unavailable`; None when it was not asked or not reported), and the true deadline.
    extended_authorization: str | None = None
    incremental_authorization: str | None = None
    multicapture: str | None = None
    overcapture: str | None = None
    overcapture_maximum: int | None = None  # maximum_amount_capturable
    capture_before: int | None = None  # Stripe's Unix time

    @property
    def created_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.created, UTC) if self.created else None

    def stored(self) -> dict[str, Any]:
        """The facts as the JSON the database keeps."""
        return asdict(self)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> ChargeFacts:
        """Facts kept earlier; keys a later version no longer has are dropped."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        card = values.get("card")
        values["card"] = Card(**v.only(Card, card)) if isinstance(card, dict) else None
        return cls(**values)

    def merged_over(self, older: ChargeFacts) -> ChargeFacts:
        """These facts, with what an earlier reading knew where this one says nothing.

        A payload may be older than what an API answer already told (no card details, no
        balance transaction yet): silence never erases a fact. A captured amount never
        goes down.
        """
        values = {}
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(older, item.name)
            values[item.name] = theirs if mine is None else mine
        if self.card is not None and older.card is not None:
            values["card"] = Card(
                **{
                    item.name: getattr(self.card, item.name)
                    if getattr(self.card, item.name) is not None
                    else getattr(older.card, item.name)
                    for item in fields(Card)
                }
            )
        if older.amount_captured is not None:
            values["amount_captured"] = max(older.amount_captured, self.amount_captured or 0)
        return ChargeFacts(**values)


@dataclass(frozen=True)
class Fee:
    type: str  # stripe_fee, application_fee, tax, ...
    amount: int
    currency: str
    description: str | None = None


@dataclass(frozen=True)
class BalanceFacts:
    """What a capture or refund did to the merchant's Stripe balance, in the settlement
    currency: `amount` and `net` are signed (a refund's are negative)."""

    id: str
    amount: int
    currency: str  # the settlement currency (upper case)
    net: int
    fee: int | None  # None: Stripe reported no fee (IC+ pricing, or the sandbox)
    fee_details: tuple[Fee, ...] = ()
    exchange_rate: str | None = None  # as Stripe wrote it, when the currencies differ
    status: str | None = None  # pending, available

    def stored(self) -> dict[str, Any]:
        data = asdict(self)
        data["fee_details"] = [asdict(fee) for fee in self.fee_details]
        return data

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> BalanceFacts:
        values = v.only(cls, data)
        values["fee_details"] = tuple(
            Fee(**v.only(Fee, fee))
            for fee in data.get("fee_details") or []
            if isinstance(fee, dict)
        )
        return cls(**values)


@dataclass(frozen=True)
class RefundDetails:
    """A refund as Stripe describes it, with what it did to the balance when known."""

    id: str
    amount: int
    currency: str | None
    status: str
    reason: str | None
    created: int | None
    failure_reason: str | None
    idempotency_key: str | None
    balance_transaction_id: str | None
    balance: BalanceFacts | None


def charge_facts(raw: Any, *, no_charge: str | None = None) -> ChargeFacts | None:
    """A charge object (API answer or payload) -> facts; None when it is not one.

    `no_charge` names an attempt that failed before any charge was made (a failed 3-D
    Secure step): the facts are then those of the attempt, under that name.
    """
    if not isinstance(raw, dict):
        return None
    charge_id = v.object_id(raw.get("id"))
    if charge_id is None or not charge_id.startswith(("ch_", "py_")):
        if no_charge is None:
            return None
        charge_id = no_charge
    details = v.obj(raw.get("payment_method_details"))
    card = v.obj(details.get("card"))
    checks = v.obj(card.get("checks"))
    secure = v.obj(card.get("three_d_secure"))
    outcome = v.obj(raw.get("outcome"))
    balance = raw.get("balance_transaction")
    return ChargeFacts(
        id=charge_id,
        payment_intent_id=v.object_id(raw.get("payment_intent")),
        status=v.enum(raw.get("status")),
        amount=v.amount(raw.get("amount")),
        amount_captured=v.amount(raw.get("amount_captured")) if raw.get("captured") else None,
        currency=v.currency(raw.get("currency")),
        created=v.amount(raw.get("created")),
        livemode=raw.get("livemode") is True,
        card=card_from(card) if card else None,
        three_d_secure=v.enum(secure.get("result")),
        three_d_secure_version=v.text(secure.get("version"), 16),
        cvc_check=v.enum(checks.get("cvc_check")),
        address_line1_check=v.enum(checks.get("address_line1_check")),
        address_postal_code_check=v.enum(checks.get("address_postal_code_check")),
        network_status=v.enum(outcome.get("network_status")),
        outcome_type=v.enum(outcome.get("type")),
        outcome_reason=v.enum(outcome.get("reason")),
        risk_level=v.enum(outcome.get("risk_level")),
        risk_score=v.bounded(outcome.get("risk_score"), 100),
        seller_message=v.text(outcome.get("seller_message")),
        failure_code=v.enum(raw.get("failure_code")),
        decline_code=v.enum(outcome.get("reason"))
        if raw.get("status") == ChargeStatus.FAILED
        else None,
        failure_message=v.text(raw.get("failure_message")),
        statement_descriptor=v.text(
            raw.get("calculated_statement_descriptor") or raw.get("statement_descriptor"), 64
        ),
        receipt_email=v.text(raw.get("receipt_email"), 254),
        balance_transaction_id=v.object_id(balance),
        extended_authorization=v.enum(v.obj(card.get("extended_authorization")).get("status")),
        incremental_authorization=v.enum(
            v.obj(card.get("incremental_authorization")).get("status")
        ),
        multicapture=v.enum(v.obj(card.get("multicapture")).get("status")),
        overcapture=v.enum(v.obj(card.get("overcapture")).get("status")),
        overcapture_maximum=v.amount(
            v.obj(card.get("overcapture")).get("maximum_amount_capturable")
        ),
        capture_before=v.amount(card.get("capture_before")),
    )


def failed_attempt(
    error: Any, payment_intent_id: Any, *, livemode: bool = False
) -> ChargeFacts | None:
    """The attempt a decline describes: an API error's body, or a PaymentIntent's
    `last_payment_error` (the same shape): its charge if one was made, codes, message, and
    the card from its payment method."""
    if not isinstance(error, dict) or not error:
        return None
    intent = v.object_id(payment_intent_id) or v.object_id(error.get("payment_intent"))
    code = v.enum(error.get("code")) or "failed"
    facts = charge_facts(
        {
            "id": error.get("charge"),
            "status": ChargeStatus.FAILED.value,
            "failure_code": error.get("code"),
            "failure_message": error.get("message"),
            "outcome": {"reason": error.get("decline_code")},
            "payment_intent": intent,
            "livemode": livemode,
        },
        no_charge=f"{intent}:{code}",
    )
    card = v.obj(v.obj(error.get("payment_method")).get("card"))
    if facts is not None and card:
        facts = replace(facts, card=card_from(card))
    return facts


def card_from(card: dict[str, Any]) -> Card:
    """A card as `payment_method_details.card` or a PaymentMethod's `card` describes it."""
    wallet = v.obj(card.get("wallet"))
    return Card(
        brand=v.enum(card.get("brand")),
        last4=v.last4(card.get("last4")),
        exp_month=v.bounded(card.get("exp_month"), 12, low=1),
        exp_year=v.bounded(card.get("exp_year"), 9999, low=1900),
        funding=v.enum(card.get("funding")),
        country=v.country(card.get("country")),
        wallet=v.enum(wallet.get("type")),
        network=v.enum(card.get("network")),
    )


def balance_facts(raw: Any) -> BalanceFacts | None:
    """An expanded balance transaction -> facts; None for an id alone or anything else."""
    if not isinstance(raw, dict):
        return None
    bt_id = v.object_id(raw.get("id"))
    amount, net = v.signed(raw.get("amount")), v.signed(raw.get("net"))
    currency = v.currency(raw.get("currency"))
    if bt_id is None or amount is None or net is None or currency is None:
        return None
    fees = tuple(
        fee
        for fee in (_fee(item) for item in raw.get("fee_details") or [] if isinstance(item, dict))
        if fee is not None
    )
    fee = v.amount(raw.get("fee"))
    # Accounts on IC+ pricing get no fee on their balance transactions (Stripe's fees
    # report instead), and the sandbox never charges one: a 0 with no breakdown is "not
    # reported", never a fee of zero.
    reported = fee if fees or fee else None
    rate = raw.get("exchange_rate")
    return BalanceFacts(
        id=bt_id,
        amount=amount,
        currency=currency,
        net=net,
        fee=reported,
        fee_details=fees,
        exchange_rate=v.rate(rate),
        status=v.enum(raw.get("status")),
    )


def refund_details(raw: Any) -> RefundDetails | None:
    """A refund object -> details; None when it is not one."""
    if not isinstance(raw, dict):
        return None
    refund_id = v.object_id(raw.get("id"))
    amount = v.amount(raw.get("amount"))
    if refund_id is None or not refund_id.startswith(("re_", "pyr_")) or amount is None:
        return None
    metadata = v.obj(raw.get("metadata"))
    key = metadata.get("idempotency_key")
    balance = raw.get("balance_transaction")
    return RefundDetails(
        id=refund_id,
        amount=amount,
        currency=v.currency(raw.get("currency")),
        status=v.enum(raw.get("status")) or RefundStatus.PENDING.value,
        reason=v.enum(raw.get("reason")),
        created=v.amount(raw.get("created")),
        failure_reason=v.enum(raw.get("failure_reason")),
        idempotency_key=key if isinstance(key, str) and len(key) <= 255 else None,
        balance_transaction_id=v.object_id(balance),
        balance=balance_facts(balance),
    )


def refunds_listed(charge: Any) -> list[RefundDetails]:
    """The refunds a charge lists, when Stripe included them (localstripe always does)."""
    if not isinstance(charge, dict):
        return []
    listed = v.obj(charge.get("refunds")).get("data")
    if not isinstance(listed, list):
        return []
    return [refund for refund in map(refund_details, listed) if refund is not None]


def _fee(item: dict[str, Any]) -> Fee | None:
    kind, amount = v.enum(item.get("type")), v.amount(item.get("amount"))
    currency = v.currency(item.get("currency"))
    if kind is None or amount is None or currency is None:
        return None
    description = v.text(item.get("description"), 120)
    return Fee(type=kind, amount=amount, currency=currency, description=description)
