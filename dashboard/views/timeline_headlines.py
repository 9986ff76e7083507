"""The order timeline's headlines: each entry in plain words, written when the page is
drawn from the entry's kind and data; an entry whose data does not say enough (one written
by an older release) keeps its stored summary. Stripe's names and ids stay in the details."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.domain.money import format_minor
from dashboard.models import TimelineEntry, TimelineKind

# A headline is text with moments in it; the template writes each moment with the `when`
# filter (the reader's time zone), in a <time> element.
Part = str | datetime


@dataclass(frozen=True)
class Headline:
    parts: tuple[Part, ...]

    def text(self, when: Callable[[datetime], str]) -> str:
        return "".join(part if isinstance(part, str) else when(part) for part in self.parts)


@dataclass(frozen=True, slots=True)
class TimelineLine:
    """One entry as the timeline shows it: its headline, and the entry for its details."""

    entry: TimelineEntry
    headline: Headline
    plain: str | None  # the headline when it has no moment in it (most do): no macro needed
    headline_is_summary: bool


def timeline_lines(entries: Iterable[TimelineEntry], currency: str) -> list[TimelineLine]:
    lines = []
    for entry in entries:
        found = headline(entry, currency)
        parts = found.parts
        plain = parts[0] if len(parts) == 1 and isinstance(parts[0], str) else None
        lines.append(TimelineLine(entry, found, plain, plain == entry.summary))
    return lines


def headline(entry: TimelineEntry, currency: str) -> Headline:
    """The entry in plain words, or its stored summary when its data does not say enough."""
    data = entry.data if isinstance(entry.data, Mapping) else {}
    write = _WRITERS.get(entry.kind)
    facts = _Facts(data, currency)
    who = entry.actor.email if entry.actor is not None else "the system"
    try:
        written = write(facts, who) if write else None
    except _Missing:
        written = None
    if written is None:
        return Headline((entry.summary,))
    return Headline(written if isinstance(written, tuple) else (written,))


class _Missing(Exception):
    """The data lacks a fact the headline needs: the stored summary is shown instead."""


@dataclass(frozen=True)
class _Facts:
    data: Mapping[str, Any]
    currency: str

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) and value else None

    def amount(self, key: str) -> int | None:
        value = self.data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def money(self, key: str) -> str:
        """The amount at `key` for people; _Missing when there is none."""
        value = self.amount(key)
        if value is None:
            raise _Missing(key)
        return format_minor(value, self.currency)

    def moment(self, key: str) -> datetime | None:
        text = self.text(key)
        try:
            return datetime.fromisoformat(text) if text else None
        except ValueError:
            return None


Written = str | tuple[Part, ...] | None


def _staff_action(facts: _Facts, who: str) -> Written:
    by = f" by {who}"
    match facts.text("action"):
        case "create_order":
            return f"Order created for {facts.money('total_amount')}{by}"
        case "capture":
            return f"Capture of {facts.money('amount')} requested{by}"
        case "void":
            return f"Release of the hold requested{by}"
        case "refund":
            return f"Refund of {facts.money('amount')} requested{by}"
        case "partial_capture":
            return f"Capture of {facts.money('amount')}, keeping the rest held, requested{by}"
        case "release":
            return f"Release of the rest of the hold requested{by}"
        case "increment":
            return f"A larger hold of {facts.money('amount')} requested{by}"
        case "reauthorize":
            return f"New hold of {facts.money('amount')} on the saved card requested{by}"
        case "new_pay_link":
            return f"New pay link for {facts.money('amount')} requested{by}"
        case "set_payment_method":
            method = METHODS.get(facts.text("method") or "")
            return f"Payment method set to {method}{by}" if method else None
    return None


METHODS = {"checkout": "Stripe Checkout", "payment_page": "the card payment page"}


def _what(facts: _Facts) -> tuple[str, str] | None:
    """The thing asked of Stripe, in words ("the capture of $18.00"), and what Stripe did
    when it said yes."""
    amount = facts.amount("amount")
    of = f" of {facts.money('amount')}" if amount is not None else ""
    return {
        "capture": (f"the capture{of}", f"confirmed the capture{of}"),
        "void": ("the release of the hold", "confirmed the release of the hold"),
        "refund": (f"the refund{of}", f"confirmed the refund{of}"),
        "partial_capture": (
            f"the capture{of} (the rest kept held)",
            f"confirmed the capture{of}; the rest stays held",
        ),
        "release": ("the release of the rest of the hold", "released the rest of the hold"),
        "increment": (f"a larger hold{of}", f"raised the hold to a total{of}"),
        "create_payment_intent": (f"a payment{of}", f"opened a payment{of} for the buyer"),
        "create_checkout_session": (f"a checkout page{of}", f"opened a checkout page{of}"),
        "reauthorize": (f"a new hold{of} on the saved card", f"placed a new hold{of}"),
        "new_pay_link": (f"a new payment{of} for the buyer", f"opened a new payment{of}"),
        "cancel_replaced_hold": ("releasing the old hold", "released the old hold"),
        "expire_checkout_session": (
            "closing the earlier checkout page",
            "closed the earlier checkout page",
        ),
    }.get(facts.text("action") or "")


def _api_call(facts: _Facts, who: str) -> Written:
    if facts.text("sweep") == "authorization":
        differences = facts.data.get("differences")
        if isinstance(differences, list) and differences:
            found = "; ".join(str(difference) for difference in differences)
            return f"Out of step with Stripe, found by the authorization sweep: {found}"
        if facts.text("action") == "void":
            return "The hold's capture deadline passed: the authorization sweep releases it"
        return None
    asked = _what(facts)
    if asked is None:
        return None
    what, done = asked
    match facts.text("status"):
        case "succeeded":
            return f"Stripe {done}"
        case "failed" if facts.text("action") == "create_payment_intent":
            return "The buyer's card was declined"
        case "failed" if facts.text("action") == "increment":
            return f"The bank declined {what}; the earlier hold stays as it was"
        case "failed":
            return f"Stripe refused {what}"
        case "unknown":
            return f"No answer from Stripe about {what}: awaiting confirmation"
        case "pending":
            return f"Sent {what} to Stripe"
    return None


# Why a webhook changed nothing, recognised in its stored reason: the event told what the
# order already knew (a late or repeated event, or one the state machine had passed).
_UP_TO_DATE = ("says nothing new", "the order is already", "changes nothing", "already say so")


def _webhook(facts: _Facts, who: str) -> Written:
    kind = facts.text("type")
    if kind is None:
        return None
    reason = facts.text("reason") or ""
    match facts.text("outcome"):
        case None:
            words = "received, not processed yet"
        case "applied":
            words = "order updated"
        case "ignored" if reason.startswith("Not applied"):
            words = "not applied: its amounts cannot be right"
        case "ignored" if any(stale in reason for stale in _UP_TO_DATE):
            words = "already up to date"
        case "ignored" if "earlier attempt" in reason:
            words = "about an earlier payment attempt; nothing to do"
        case "ignored":
            words = "nothing to do"
        case "failed":
            words = "failed; it will be tried again"
        case other:
            words = other
    late = ", arrived out of order" if facts.data.get("out_of_order") is True else ""
    return f"Webhook {kind}: {words}{late}"


def _state_change(facts: _Facts, who: str) -> Written:
    if facts.text("refused"):
        return f"Stripe's news was not applied: {facts.text('refused')}"
    target, event = facts.text("to"), facts.text("event")
    if target is None:
        reason = facts.text("reason")
        return f"Stripe's news was not applied: {reason}" if reason and event else None
    if event == "refund_failed":
        why = facts.text("reason")
        return (
            "A refund failed" + (f" ({why})" if why else "") + "; the money stays with the merchant"
        )
    match target:
        case "processing" if event == "action_required":
            return "The buyer's bank asked them to verify the payment"
        case "processing":
            return "The buyer started paying"
        case "authorized" if event == "reauthorized":
            replaced = facts.text("previous_payment_intent")
            new = f"New hold of {facts.money('amount')} (payment {facts.text('payment_intent')})"
            after = f"; it replaces payment {replaced}" if replaced else ""
            until = facts.moment("capture_before")
            return (new, ", until ", until, after) if until else new + after
        case "authorized":
            amount = f"Card authorized for {facts.money('amount')}"
            until = facts.moment("capture_before")
            return (amount, ", hold until ", until) if until else amount
        case "partly_captured":
            rest = f"; {facts.money('held')} still held" if facts.amount("held") else ""
            return f"{facts.money('amount')} captured so far{rest}"
        case "captured":
            released = facts.amount("released")
            rest = (
                f"; the other {facts.money('released')} went back to the buyer" if released else ""
            )
            return f"Captured {facts.money('amount')}{rest}"
        case "partially_refunded":
            return f"{facts.money('refunded')} of {facts.money('captured')} refunded to the buyer"
        case "refunded":
            return f"All {facts.money('captured')} refunded to the buyer"
        case "voided":
            held = f" of {facts.money('released')}" if facts.amount("released") else ""
            return f"Hold{held} released; the buyer was not charged"
        case "expired" if facts.text("from") == "authorized":
            return "The hold expired before it was captured; the buyer was not charged"
        case "expired":
            return "The payment expired before the buyer finished it"
        case "failed":
            return "Payment attempt failed" + _failure(facts.text("stripe_code"))
    return None


def _failure(code: str | None) -> str:
    if code is None:
        return ""
    if code == "payment_intent_authentication_failure":
        return ": the buyer's bank could not verify it"
    return ": the card was declined"


_OUTBOX = {
    "ORDER_CREATED": "a payment was started",
    "PAYMENT_SUCCEEDED": "the payment was captured",
    "PAYMENT_FAILED": "a payment failed",
}


def _outbox(facts: _Facts, who: str) -> Written:
    news = _OUTBOX.get(facts.text("type") or "")
    return f"Other systems will be told {news}" if news else None


_WRITERS: dict[str, Callable[[_Facts, str], Written]] = {
    TimelineKind.STAFF_ACTION: _staff_action,
    TimelineKind.API_CALL: _api_call,
    TimelineKind.WEBHOOK: _webhook,
    TimelineKind.STATE_CHANGE: _state_change,
    TimelineKind.OUTBOX: _outbox,
}
