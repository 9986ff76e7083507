"""Seeded order histories as Stripe reports them, and the truth each one must end in.

A `Plan` is drawn from the seed before any order exists (its kind and amounts); `build`
then turns it into Stripe-shaped events for a real order id, with the objects Stripe would
answer with at the end (for the sweep's re-read) and the `Truth` the order must end in.

Every event here is applied from its payload alone (docs/webhooks.md): the events that
make the dashboard re-read Stripe (`checkout.session.completed`, `refund.*`,
`charge.refund.updated`) are left out, so the answer the web workers would get cannot
depend on a double. The payloads are Stripe's published examples (tests/support/stripe.py)
with only the fields of the case changed.

The order's stored PaymentIntent is seeded where the dashboard would have stored it when it
created the PaymentIntent (our payment page does): disputes carry no order metadata and are
found by that id, and after a decline retried with a new PaymentIntent the stored one is the
new one, so the old attempt's events are ignored.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.stripe import charge, dispute, intent, stripe_event, stripe_example

KINDS: dict[str, float] = {
    "hold": 1.0,
    "capture": 2.0,
    "partial_capture": 1.0,
    "void": 1.0,
    "refund": 2.0,
    "dispute": 1.0,
    "expired_hold": 1.0,
    "expired_checkout": 1.0,
    "decline": 0.5,
    "decline_retry": 1.0,
    "decline_retry_new_intent": 1.0,
    "multicapture": 1.0,  # two captures keeping the rest held, then the final capture
    "increment": 0.5,  # the hold raised by incremental authorization
    "reauthorized": 1.0,  # a lapsing hold replaced by a new one the buyer confirmed
}

DECLINE = {
    "type": "card_error",
    "code": "card_declined",
    "decline_code": "generic_decline",
    "message": "Your card was declined.",
}


@dataclass(frozen=True)
class Plan:
    """What happens to one order, drawn from the seed; amounts in minor units."""

    kind: str
    amount: int
    captured: int = 0
    refunds: tuple[int, ...] = ()
    retry_captures: bool = False
    then_paid: bool = False
    dispute_outcome: str = ""


@dataclass(frozen=True)
class Truth:
    """Where an order must end, whatever the arrival order and the faults."""

    state: str
    authorized: int
    capturable: int
    captured: int
    refunded: int
    payment_intent_id: str | None
    dispute: tuple[str, bool, bool] | None  # status, funds withdrawn, funds reinstated
    outbox: tuple[str, ...]  # outbox event types, sorted
    outbox_optional: tuple[str, ...] = ()  # emitted or not depending on arrival order


@dataclass
class History:
    order_id: int
    plan: Plan
    events: list[dict[str, Any]]
    truth: Truth
    seed_columns: dict[str, Any]
    # What Stripe answers at the end: PaymentIntents and Checkout Sessions by id.
    stripe_objects: dict[str, dict[str, Any]] = field(default_factory=dict)


def plan_orders(events_wanted: int, rng: random.Random) -> list[Plan]:
    """Plans until their events number at least `events_wanted`."""
    kinds, weights = zip(*KINDS.items(), strict=True)
    plans: list[Plan] = []
    total = 0
    while total < events_wanted:
        plan = _draw(rng.choices(kinds, weights)[0], rng)
        plans.append(plan)
        total += len(build(plan, 1).events)
    return plans


def _draw(kind: str, rng: random.Random) -> Plan:
    amount = rng.randrange(500, 50_000, 50)
    if kind == "partial_capture":
        return Plan(kind, amount, captured=rng.randrange(100, amount, 50))
    if kind == "refund":
        captured = amount if rng.random() < 0.6 else rng.randrange(100, amount, 50)
        full = rng.random() < 0.4
        if full:
            refunds: tuple[int, ...] = (captured,)
        else:
            first = rng.randrange(50, captured, 50) if captured > 100 else captured
            second = rng.randrange(0, captured - first + 1, 50) if rng.random() < 0.5 else 0
            refunds = (first, first + second) if second else (first,)
        return Plan(kind, amount, captured=captured, refunds=refunds)
    if kind == "dispute":
        return Plan(kind, amount, captured=amount, dispute_outcome=rng.choice(["won", "lost"]))
    if kind in ("decline_retry", "decline_retry_new_intent"):
        return Plan(kind, amount, retry_captures=rng.random() < 0.5)
    if kind == "expired_checkout":
        return Plan(kind, amount, then_paid=rng.random() < 0.5)
    if kind == "multicapture":  # the first two captures; the final one takes the rest
        first = rng.randrange(50, amount // 2, 50)
        return Plan(kind, amount, captured=first, refunds=(rng.randrange(50, amount // 2, 50),))
    if kind == "increment":  # `captured` holds the increase (nothing is captured)
        return Plan(kind, amount, captured=rng.randrange(50, 10_000, 50))
    return Plan(kind, amount, captured=amount if kind == "capture" else 0)


def build(plan: Plan, order_id: int, *, tag: str = "x") -> History:
    """The plan for a real order: its events (ids unique per tag and order) and its truth."""
    return _Builder(plan, order_id, tag).build()


class _Builder:
    def __init__(self, plan: Plan, order_id: int, tag: str) -> None:
        self.plan = plan
        self.order_id = order_id
        self.pi = f"pi_chaos_{tag}_{order_id}"
        self.ch = f"ch_chaos_{tag}_{order_id}"
        self.events: list[dict[str, Any]] = []
        self.prefix = f"evt_chaos_{tag}_{order_id}_"
        self.tag = tag
        self.created = int(time.time()) - 3600

    def event(self, type_: str, obj: dict[str, Any]) -> None:
        self.created += 1
        self.events.append(
            stripe_event(
                type_, obj, event_id=f"{self.prefix}{len(self.events)}", created=self.created
            )
        )

    # -- Stripe objects ---------------------------------------------------------------

    def charge(self, *, captured: int = 0, refunded: int = 0, **fields: Any) -> dict[str, Any]:
        return charge(
            self.order_id,
            id=self.ch,
            payment_intent=self.pi,
            amount=fields.pop("amount", self.plan.amount),
            captured=captured > 0,
            amount_captured=captured,
            refunds=refunded,
            **fields,
        )

    def held(self, pi: str | None = None, amount: int | None = None) -> dict[str, Any]:
        return intent(
            self.order_id,
            id=pi or self.pi,
            status="requires_capture",
            amount=amount or self.plan.amount,
            capturable=amount or self.plan.amount,
            latest_charge=self.ch,
        )

    def succeeded(self, captured: int) -> dict[str, Any]:
        return intent(
            self.order_id,
            id=self.pi,
            status="succeeded",
            amount=self.plan.amount,
            received=captured,
            latest_charge=self.ch,
        )

    def canceled(self, reason: str) -> dict[str, Any]:
        return intent(
            self.order_id,
            id=self.pi,
            status="canceled",
            amount=self.plan.amount,
            cancellation_reason=reason,
            canceled_at=self.created,
            latest_charge=self.ch,
        )

    def declined(self, pi: str) -> dict[str, Any]:
        """A declined attempt, as Stripe reports it: the attempt's own failed charge (by id
        in an event, expanded in the API's answer), named in the error too."""
        return intent(
            self.order_id,
            id=pi,
            status="requires_payment_method",
            amount=self.plan.amount,
            latest_charge=f"{pi}_declined_charge",
            last_payment_error={**DECLINE, "charge": f"{pi}_declined_charge"},
        )

    def declined_charge(self, pi: str) -> dict[str, Any]:
        failed = charge(
            self.order_id, id=f"{pi}_declined_charge", payment_intent=pi, amount=self.plan.amount
        )
        failed.update(
            status="failed",
            paid=False,
            failure_code="card_declined",
            failure_message=DECLINE["message"],
        )
        return failed

    def final(self, obj: dict[str, Any], charge_: dict[str, Any] | None) -> dict[str, Any]:
        """The PaymentIntent as the API answers `expand[]=latest_charge`."""
        return {**obj, "latest_charge": charge_}

    # -- the histories ---------------------------------------------------------------

    def build(self) -> History:
        plan = self.plan
        amount = plan.amount
        seed: dict[str, Any] = {"stripe_payment_intent_id": self.pi}
        final_pi: str | None = None  # when the order ends on another PaymentIntent
        objects: dict[str, dict[str, Any]] = {}
        dispute_truth = None
        outbox: tuple[str, ...] = ()
        optional: tuple[str, ...] = ()
        kind = plan.kind
        if kind == "hold":
            self.event("payment_intent.amount_capturable_updated", self.held())
            objects[self.pi] = self.final(self.held(), self.charge())
            truth = ("authorized", amount, amount, 0, 0)
        elif kind in ("capture", "partial_capture", "refund", "dispute"):
            captured = plan.captured
            self.capture(captured)
            refunded = 0
            for refunded in plan.refunds:
                self.event("charge.refunded", self.charge(captured=captured, refunded=refunded))
            if kind == "dispute":
                dispute_truth = self.dispute(plan.dispute_outcome)
            objects[self.pi] = self.final(
                self.succeeded(captured), self.charge(captured=captured, refunded=refunded)
            )
            state = "captured"
            if refunded:
                state = "refunded" if refunded >= captured else "partially_refunded"
            truth = (state, amount, 0, captured, refunded)
            outbox = ("PAYMENT_SUCCEEDED",)
        elif kind == "multicapture":
            self.multicapture(plan.captured, plan.refunds[0])
            objects[self.pi] = self.final(self.succeeded(amount), self.charge(captured=amount))
            truth = ("captured", amount, 0, amount, 0)
            outbox = ("PAYMENT_SUCCEEDED",)
        elif kind == "increment":
            larger = amount + plan.captured
            self.event("payment_intent.amount_capturable_updated", self.held())
            self.event("payment_intent.amount_capturable_updated", self.held(amount=larger))
            objects[self.pi] = self.final(self.held(amount=larger), self.charge(amount=larger))
            truth = ("authorized", larger, larger, 0, 0)
        elif kind == "reauthorized":
            # Staff re-authorized a hold about to lapse; the buyer's bank wanted them to
            # verify, so the order waits for the new PaymentIntent the buyer confirms on the
            # pay link (as the dashboard stored it). The old hold lapses and the new one
            # holds, reported in any order: the order ends on the new one.
            renewed = f"{self.pi}_renewed"
            seed.update(
                renewal_payment_intent_id=renewed,
                state="authorized",
                amount_authorized=amount,
                amount_capturable=amount,
            )
            self.event("payment_intent.canceled", self.canceled("automatic"))
            lapsed = self.charge(refunded=amount)
            lapsed["refunded"] = True
            self.event("charge.expired", lapsed)
            new_hold = intent(
                self.order_id,
                id=renewed,
                status="requires_capture",
                amount=amount,
                capturable=amount,
                latest_charge=f"{self.ch}_renewed",
            )
            self.event("payment_intent.amount_capturable_updated", new_hold)
            new_charge = charge(
                self.order_id, id=f"{self.ch}_renewed", payment_intent=renewed, amount=amount
            )
            objects[self.pi] = self.final(self.canceled("automatic"), lapsed)
            objects[renewed] = self.final(new_hold, new_charge)
            final_pi = renewed
            truth = ("authorized", amount, amount, 0, 0)
        elif kind == "void":
            self.event("payment_intent.amount_capturable_updated", self.held())
            self.event("payment_intent.canceled", self.canceled("requested_by_customer"))
            released = self.charge(refunded=amount)
            released["refunded"] = True  # Stripe shows a released hold as a refunded charge
            self.event("charge.refunded", released)
            objects[self.pi] = self.final(self.canceled("requested_by_customer"), released)
            truth = ("voided", amount, 0, 0, 0)
        elif kind == "expired_hold":
            self.event("payment_intent.amount_capturable_updated", self.held())
            self.event("payment_intent.canceled", self.canceled("automatic"))
            lapsed = self.charge(refunded=amount)
            lapsed["refunded"] = True
            self.event("charge.expired", lapsed)
            objects[self.pi] = self.final(self.canceled("automatic"), lapsed)
            truth = ("expired", amount, 0, 0, 0)
        elif kind == "expired_checkout":
            session = self.expired_session()
            seed = {"stripe_checkout_session_id": session["id"]}
            self.event("checkout.session.expired", session)
            objects[session["id"]] = session
            truth = ("failed", 0, 0, 0, 0)
            if plan.then_paid:  # then paid on our payment page, which made a PaymentIntent
                seed["stripe_payment_intent_id"] = self.pi
                self.event("payment_intent.amount_capturable_updated", self.held())
                objects[self.pi] = self.final(self.held(), self.charge())
                truth = ("authorized", amount, amount, 0, 0)
        elif kind == "decline":
            # One attempt, reported by its event (redelivered, shuffled) and by the sweep's
            # re-read in another shape: one PAYMENT_FAILED.
            self.event("payment_intent.payment_failed", self.declined(self.pi))
            objects[self.pi] = self.final(self.declined(self.pi), self.declined_charge(self.pi))
            truth = ("failed", 0, 0, 0, 0)
            outbox = ("PAYMENT_FAILED",)
        elif kind == "decline_retry":
            # Our payment page reuses the PaymentIntent: the same id fails, then holds.
            self.event("payment_intent.payment_failed", self.declined(self.pi))
            truth, outbox = self.retry(objects)
            # Emitted only when the failure is applied before the later success arrives.
            optional = ("PAYMENT_FAILED",)
        elif kind == "decline_retry_new_intent":
            old = f"{self.pi}_first"
            self.event("payment_intent.payment_failed", self.declined(old))
            objects[old] = self.final(self.declined(old), self.declined_charge(old))
            truth, outbox = self.retry(objects)
        else:  # pragma: no cover - KINDS and this function are kept together
            raise ValueError(kind)
        state, authorized, capturable, captured_amount, refunded_amount = truth
        return History(
            order_id=self.order_id,
            plan=plan,
            events=self.events,
            truth=Truth(
                state=state,
                authorized=authorized,
                capturable=capturable,
                captured=captured_amount,
                refunded=refunded_amount,
                payment_intent_id=final_pi or seed.get("stripe_payment_intent_id"),
                dispute=dispute_truth,
                outbox=tuple(sorted(outbox)),
                outbox_optional=optional,
            ),
            seed_columns=seed,
            stripe_objects=objects,
        )

    def capture(self, captured: int) -> None:
        self.event("payment_intent.amount_capturable_updated", self.held())
        self.event("charge.captured", self.charge(captured=captured))
        self.event("payment_intent.succeeded", self.succeeded(captured))

    def multicapture(self, first: int, second: int) -> None:
        """Multicapture: each capture a charge.captured (nothing released while the rest is
        held) or an amount_capturable_updated; then the final capture of the rest."""
        amount = self.plan.amount
        self.event("payment_intent.amount_capturable_updated", self.held())
        partial = self.charge(captured=first, amount_refunded=0, refunded=False)
        partial["payment_method_details"]["card"]["multicapture"] = {"status": "available"}
        self.event("charge.captured", partial)
        both = first + second
        between = intent(
            self.order_id,
            id=self.pi,
            status="requires_capture",
            amount=amount,
            capturable=amount - both,
            received=both,
            latest_charge=self.ch,
        )
        self.event("payment_intent.amount_capturable_updated", between)
        self.event("charge.captured", self.charge(captured=amount))
        self.event("payment_intent.succeeded", self.succeeded(amount))

    def retry(
        self, objects: dict[str, dict[str, Any]]
    ) -> tuple[tuple[str, int, int, int, int], tuple[str, ...]]:
        amount = self.plan.amount
        if self.plan.retry_captures:
            self.capture(amount)
            objects[self.pi] = self.final(self.succeeded(amount), self.charge(captured=amount))
            return ("captured", amount, 0, amount, 0), ("PAYMENT_SUCCEEDED",)
        self.event("payment_intent.amount_capturable_updated", self.held())
        objects[self.pi] = self.final(self.held(), self.charge())
        return ("authorized", amount, amount, 0, 0), ()

    def dispute(self, outcome: str) -> tuple[str, bool, bool]:
        def shaped(status: str) -> dict[str, Any]:
            obj = dispute(id=f"dp_chaos_{self.tag}_{self.order_id}", status=status, amount=600)
            obj.update(charge=self.ch, payment_intent=self.pi, metadata={})
            return obj

        self.event("charge.dispute.created", shaped("needs_response"))
        self.event("charge.dispute.funds_withdrawn", shaped("needs_response"))
        self.event("charge.dispute.updated", shaped("under_review"))
        self.event("charge.dispute.closed", shaped(outcome))
        if outcome == "won":
            self.event("charge.dispute.funds_reinstated", shaped("won"))
        return outcome, True, outcome == "won"

    def expired_session(self) -> dict[str, Any]:
        session = stripe_example("checkout_session")
        session.update(
            id=f"cs_chaos_{self.tag}_{self.order_id}",
            status="expired",
            payment_status="unpaid",
            payment_intent=None,
            url=None,
            client_reference_id=str(self.order_id),
            metadata={"order_id": str(self.order_id)},
            amount_total=self.plan.amount,
            expires_at=self.created,
        )
        return session
