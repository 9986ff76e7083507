"""Stripe failing at the HTTP boundary: timeouts, lost answers, 5xx, 429, 409 and replays.

Everything above the wire is real: the routes, the services, `StripeGateway`, the Stripe
SDK with its retry loop, and localstripe behind it. Only the SDK's HTTP client is swapped
for `FaultyHTTP`, which forwards to a real `stripe.RequestsClient` unless a fault is armed
for the next matching request. For every money action the tests check what a person needs
to be true: money moved at most once at Stripe, the request row says whether the outcome is
known, the panel says so in words, and "Check with Stripe" brings the order to the truth.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models import Role, StripeRequest
from dashboard.payments.stripe_gateway import MAX_NETWORK_RETRIES
from dashboard.services.payments.settle import PENDING_GRACE
from tests.support.database import outbox_types, reload, requests_of
from tests.support.faults import WorkerDied, faulty_gateway
from tests.support.localstripe import refund_at_stripe, stripe_pi
from tests.support.web import HTMX, move_money, post_form

AWAITING = 'id="awaiting-confirmation"'

# -- fixtures -------------------------------------------------------------------------


@pytest.fixture
def retries() -> int:
    """The SDK's automatic retries; 0 unless a test asks for the default."""
    return 0


@pytest.fixture
def sandbox_app(sandbox_app, localstripe_url, http, retries):
    """Here the sandbox app reaches localstripe through FaultyHTTP; so do its holds."""
    sandbox_app.extensions["stripe_gateway"] = faulty_gateway(localstripe_url, http, retries)
    return sandbox_app


@pytest.fixture
def staff(signed_in):
    """Signing in is not what these tests are about: a quick hash of the password."""
    return signed_in(Role.STAFF, quick_hash=True)


@pytest.fixture
def captured(sandbox_app, held, staff):
    """The hold captured in full: $25.00 to refund from."""
    response = move_money(staff, f"/orders/{held.id}/capture", {"amount": "25.00"}, headers=HTMX)
    assert "Captured $25.00." in response.get_data(as_text=True)
    return reload(sandbox_app, held.id)


# -- helpers --------------------------------------------------------------------------


def our_refunds(localstripe_url: str, pi_id: str) -> list[int]:
    """Amounts of the refunds localstripe holds for this payment (ours carry metadata)."""
    charge = stripe_pi(localstripe_url, pi_id)["latest_charge"]
    return [r["amount"] for r in charge["refunds"]["data"] if r.get("metadata")]


def act(client, order_id: int, action: str, data: dict[str, str] | None = None) -> str:
    """A staff action from the panel; a capture, void or refund also confirmed."""
    send = move_money if action in ("capture", "void", "refund") else post_form
    response = send(client, f"/orders/{order_id}/{action}", data or {}, headers=HTMX)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def spy(monkeypatch, app, method: str) -> list[dict[str, Any]]:
    """Record the arguments the services pass to one gateway method (observation only).

    It replaces nothing: every call goes on unchanged to the real gateway, and through it to
    localstripe over HTTP. The arguments cannot be read at the HTTP boundary instead: the
    gateway's LocalstripeCompat leaves `reason` and `cancellation_reason` out of what it
    sends, because localstripe refuses them, so only the gateway's caller shows them."""
    gateway = app.extensions["stripe_gateway"]
    real = getattr(gateway, method)
    calls: list[dict[str, Any]] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(gateway, method, recording)
    return calls


# -- capture --------------------------------------------------------------------------


def test_the_capture_succeeds_at_stripe_but_the_response_is_lost(
    sandbox_app, held, staff, http, localstripe_url
):
    pi = held.stripe_payment_intent_id
    http.arm("POST", "/capture", "lost")

    panel = act(staff, held.id, "capture", {"amount": "25.00"})
    assert "No answer from Stripe for the capture. It may or may not have happened" in panel
    assert "A capture of $25.00 is awaiting confirmation from Stripe." in panel
    assert "Check with Stripe" in panel and 'id="capture-form"' not in panel
    assert stripe_pi(localstripe_url, pi)["status"] == "succeeded"  # the money did move
    assert http.reached("POST", "/capture") == 1
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert (row.status, row.error_code, row.completed_at) == ("unknown", "OutcomeUnknown", None)
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured) == ("authorized", 0)  # not claimed yet
    assert outbox_types(sandbox_app, held.id) == ["ORDER_CREATED"]

    # A second click while it is unknown is refused here; nothing reaches Stripe.
    again = move_money(staff, f"/orders/{held.id}/capture", {"amount": "25.00"}, headers=HTMX)
    assert again.status_code == 409
    assert "still waiting for Stripe. Nothing new was sent." in again.get_data(as_text=True)

    settled = act(staff, held.id, "settle")
    assert "Confirmed with Stripe: the capture went through." in settled
    assert AWAITING not in settled and 'id="amount-captured">$25.00<' in settled
    assert http.reached("POST", "/capture") == 1  # settling re-read; it did not resend
    assert [s.outcome for s in http.to("POST", "/capture")] == ["lost"]
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "succeeded" and row.completed_at is not None
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured, order.amount_capturable) == ("captured", 2500, 0)
    assert outbox_types(sandbox_app, held.id) == ["ORDER_CREATED", "PAYMENT_SUCCEEDED"]


@pytest.mark.parametrize(
    ("kind", "status", "said"),
    [
        ("timeout", 0, "No answer from Stripe for the capture."),
        ("reset", 0, "No answer from Stripe for the capture."),
        ("status", 409, "The same capture is still being processed by Stripe."),
    ],
    ids=["timeout", "connection-reset", "409-key-in-use"],
)
def test_unanswered_capture_that_never_ran_is_resent_with_the_same_key(
    sandbox_app, held, staff, http, localstripe_url, kind, status, said
):
    pi = held.stripe_payment_intent_id
    http.arm("POST", "/capture", kind, status)

    panel = act(staff, held.id, "capture", {"amount": "25.00"})
    assert said in panel
    assert "A capture of $25.00 is awaiting confirmation from Stripe." in panel
    assert http.reached("POST", "/capture") == 0
    assert stripe_pi(localstripe_url, pi)["status"] == "requires_capture"
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "unknown"

    settled = act(staff, held.id, "settle")
    assert "Captured $25.00." in settled and AWAITING not in settled
    first, resent = http.to("POST", "/capture")
    assert first.key == resent.key == f"order-{held.id}-capture-2500-1"
    assert (first.reached_stripe, resent.outcome) == (False, "sent")
    assert stripe_pi(localstripe_url, pi)["status"] == "succeeded"
    assert http.reached("POST", "/capture") == 1
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "succeeded"
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured) == ("captured", 2500)


@pytest.mark.parametrize(
    ("status", "said", "code"),
    [
        (
            429,
            "Stripe is receiving too many requests right now. Try again in a minute.",
            "RateLimited",
        ),
        (400, "Stripe says the payment is no longer in a state that allows this", None),
        (402, "The card could not be processed. Try again in a moment.", "processing_error"),
    ],
    ids=["429-rate-limited", "400-invalid-request", "402-card-error"],
)
def test_refused_capture_changes_nothing_and_a_retry_uses_a_new_key(
    sandbox_app, held, staff, http, localstripe_url, status, said, code
):
    pi = held.stripe_payment_intent_id
    http.arm("POST", "/capture", "status", status)

    panel = act(staff, held.id, "capture", {"amount": "25.00"})
    assert said in panel
    assert AWAITING not in panel and 'id="capture-form"' in panel  # staff may try again
    assert http.reached("POST", "/capture") == 0
    assert stripe_pi(localstripe_url, pi)["status"] == "requires_capture"
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "failed" and row.completed_at is not None
    assert row.error_code == (code or "payment_intent_unexpected_state")
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_capturable, order.amount_captured) == (
        "authorized",
        2500,
        0,
    )

    retry = act(staff, held.id, "capture", {"amount": "25.00"})
    assert "Captured $25.00." in retry
    keys = [s.key for s in http.to("POST", "/capture")]
    assert keys == [f"order-{held.id}-capture-2500-1", f"order-{held.id}-capture-2500-2"]
    assert http.reached("POST", "/capture") == 1
    assert [r.status for r in requests_of(sandbox_app, held.id, "capture")] == [
        "failed",
        "succeeded",
    ]
    assert reload(sandbox_app, held.id).state == "captured"


def test_capture_answered_with_a_500_is_settled_by_the_re_read(
    sandbox_app, held, staff, http, localstripe_url
):
    """Stripe keeps a 500 for its key and replays it: resending can never get past it."""
    pi = held.stripe_payment_intent_id
    http.arm("POST", "/capture", "status", 500)

    panel = act(staff, held.id, "capture", {"amount": "25.00"})
    assert "Stripe had an internal error during the capture. It may or may not have" in panel
    assert "A capture of $25.00 is awaiting confirmation from Stripe." in panel
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert (row.status, row.error_code) == ("unknown", "api_error")

    settled = act(staff, held.id, "settle")
    assert "Stripe shows the capture did not happen. Nothing moved" in settled
    assert AWAITING not in settled and 'id="capture-form"' in settled
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "failed"
    assert reload(sandbox_app, held.id).state == "authorized"
    assert stripe_pi(localstripe_url, pi)["status"] == "requires_capture"
    assert http.to("POST", "/capture")[-1].outcome == "status 500"  # not resent to no avail
    assert outbox_types(sandbox_app, held.id) == ["ORDER_CREATED", "PAYMENT_FAILED"]

    retry = act(staff, held.id, "capture", {"amount": "25.00"})
    assert "Captured $25.00." in retry
    assert [s.key for s in http.to("POST", "/capture") if s.outcome == "sent"] == [
        f"order-{held.id}-capture-2500-2"
    ]
    assert http.reached("POST", "/capture") == 1
    assert reload(sandbox_app, held.id).amount_captured == 2500


@pytest.mark.parametrize("retries", [MAX_NETWORK_RETRIES])
@pytest.mark.parametrize("kind", ["timeout", "lost"])
def test_sdk_retries_reuse_the_idempotency_key(
    sandbox_app, held, staff, http, localstripe_url, retries, kind
):
    """With the gateway's default retries the SDK tries again by itself, with the same key:
    after a lost answer Stripe replays the first one instead of capturing twice."""
    assert retries > 0
    http.arm("POST", "/capture", kind)

    panel = act(staff, held.id, "capture", {"amount": "25.00"})
    assert "Captured $25.00." in panel and AWAITING not in panel
    attempts = http.to("POST", "/capture")
    assert len(attempts) == 2
    assert {s.key for s in attempts} == {f"order-{held.id}-capture-2500-1"}
    assert [s.outcome for s in attempts] == (
        ["timeout", "sent"] if kind == "timeout" else ["lost", "replayed"]
    )
    assert http.reached("POST", "/capture") == 1
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "succeeded"
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "succeeded"
    assert reload(sandbox_app, held.id).amount_captured == 2500


def test_worker_killed_mid_capture_is_settled_only_after_the_grace_period(
    sandbox_app, held, staff, http, localstripe_url
):
    http.arm("POST", "/capture", "die")
    with pytest.raises(WorkerDied):
        move_money(staff, f"/orders/{held.id}/capture", {"amount": "25.00"}, headers=HTMX)
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "pending"  # the key was saved before the call; nothing after
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "succeeded"

    early = act(staff, held.id, "settle")
    assert "Stripe has not answered yet. Check again in a moment." in early
    assert "A capture of $25.00 is awaiting confirmation from Stripe." in early
    assert reload(sandbox_app, held.id).state == "authorized"

    with sandbox_app.app_context():
        db.session.execute(
            update(StripeRequest)
            .where(StripeRequest.id == row.id)
            .values(created_at=row.created_at - PENDING_GRACE - timedelta(seconds=1))
        )
        db.session.commit()
    settled = act(staff, held.id, "settle")
    assert "Confirmed with Stripe: the capture went through." in settled
    assert http.reached("POST", "/capture") == 1
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured) == ("captured", 2500)


# -- void -----------------------------------------------------------------------------


def test_void_succeeds_at_stripe_but_the_response_is_lost(
    sandbox_app, held, staff, http, localstripe_url
):
    http.arm("POST", "/cancel", "lost")
    panel = act(staff, held.id, "void", {"reason": "fraudulent"})
    assert "No answer from Stripe for the void. It may or may not have happened" in panel
    assert "A void is awaiting confirmation from Stripe." in panel
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "canceled"
    (row,) = requests_of(sandbox_app, held.id, "void")
    assert row.status == "unknown"
    assert reload(sandbox_app, held.id).state == "authorized"

    settled = act(staff, held.id, "settle")
    assert "Confirmed with Stripe: the void went through." in settled
    assert http.reached("POST", "/cancel") == 1
    (row,) = requests_of(sandbox_app, held.id, "void")
    assert row.status == "succeeded"
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_capturable, order.amount_captured) == ("voided", 0, 0)


def test_void_that_timed_out_is_resent_with_its_key_and_its_reason(
    sandbox_app, held, staff, http, localstripe_url, monkeypatch
):
    cancels = spy(monkeypatch, sandbox_app, "cancel_payment_intent")
    http.arm("POST", "/cancel", "timeout")
    panel = act(staff, held.id, "void", {"reason": "fraudulent"})
    assert "A void is awaiting confirmation from Stripe." in panel
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == (
        "requires_capture"
    )

    settled = act(staff, held.id, "settle")
    assert "The hold was released; nothing was charged." in settled
    first, resent = http.to("POST", "/cancel")
    assert first.key == resent.key == f"order-{held.id}-void-0-1"
    # Stripe refuses a key reused with other parameters: the reason must be the staff's.
    assert [c["reason"] for c in cancels] == ["fraudulent", "fraudulent"]
    assert http.reached("POST", "/cancel") == 1
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "canceled"
    assert reload(sandbox_app, held.id).state == "voided"


def test_void_rate_limited_then_retried_with_a_new_key(sandbox_app, held, staff, http):
    http.arm("POST", "/cancel", "status", 429)
    panel = act(staff, held.id, "void", {"reason": "requested_by_customer"})
    assert "Try again in a minute." in panel and 'id="void-form"' in panel
    assert reload(sandbox_app, held.id).state == "authorized"

    act(staff, held.id, "void", {"reason": "requested_by_customer"})
    assert [s.key for s in http.to("POST", "/cancel")] == [
        f"order-{held.id}-void-0-1",
        f"order-{held.id}-void-0-2",
    ]
    assert http.reached("POST", "/cancel") == 1
    assert [r.status for r in requests_of(sandbox_app, held.id, "void")] == ["failed", "succeeded"]
    assert reload(sandbox_app, held.id).state == "voided"


# -- refund ---------------------------------------------------------------------------


def test_refund_succeeds_at_stripe_but_the_response_is_lost(
    sandbox_app, captured, staff, http, localstripe_url, monkeypatch
):
    pi = captured.stripe_payment_intent_id
    refunds = spy(monkeypatch, sandbox_app, "create_refund")
    http.arm("POST", "/v1/refunds", "lost")

    panel = act(staff, captured.id, "refund", {"amount": "10.00", "reason": "duplicate"})
    assert "No answer from Stripe for the refund. It may or may not have happened" in panel
    assert "A refund of $10.00 is awaiting confirmation from Stripe." in panel
    assert 'id="refund-form"' not in panel
    assert our_refunds(localstripe_url, pi) == [1000]
    (row,) = requests_of(sandbox_app, captured.id, "refund")
    assert row.status == "unknown"
    order = reload(sandbox_app, captured.id)
    assert (order.state, order.amount_refunded) == ("captured", 0)

    # A refund cannot be seen on the PaymentIntent: settling finds it at Stripe by the key
    # it carries in its metadata, and sends nothing again.
    settled = act(staff, captured.id, "settle")
    assert "Confirmed with Stripe: refunded $10.00." in settled and AWAITING not in settled
    (only,) = http.to("POST", "/v1/refunds")
    assert only.key == f"order-{captured.id}-refund-1000-1"
    assert [c["reason"] for c in refunds] == ["duplicate"]
    assert http.reached("POST", "/v1/refunds") == 1
    assert our_refunds(localstripe_url, pi) == [1000]
    (row,) = requests_of(sandbox_app, captured.id, "refund")
    assert row.status == "succeeded"
    order = reload(sandbox_app, captured.id)
    assert (order.state, order.amount_refunded, order.amount_refundable) == (
        "partially_refunded",
        1000,
        1500,
    )


def test_refund_that_timed_out_is_resent_once(sandbox_app, captured, staff, http, localstripe_url):
    http.arm("POST", "/v1/refunds", "timeout")
    panel = act(staff, captured.id, "refund", {"amount": "25.00", "reason": "fraudulent"})
    assert "A refund of $25.00 is awaiting confirmation from Stripe." in panel
    assert our_refunds(localstripe_url, captured.stripe_payment_intent_id) == []

    settled = act(staff, captured.id, "settle")
    assert "Refunded $25.00." in settled
    assert [s.outcome for s in http.to("POST", "/v1/refunds")] == ["timeout", "sent"]
    assert {s.key for s in http.to("POST", "/v1/refunds")} == {f"order-{captured.id}-refund-2500-1"}
    assert our_refunds(localstripe_url, captured.stripe_payment_intent_id) == [2500]
    order = reload(sandbox_app, captured.id)
    assert (order.state, order.amount_refunded) == ("refunded", 2500)


def test_refund_rate_limited_then_retried_with_a_new_key(
    sandbox_app, captured, staff, http, localstripe_url
):
    http.arm("POST", "/v1/refunds", "status", 429)
    data = {"amount": "10.00", "reason": "requested_by_customer"}
    panel = act(staff, captured.id, "refund", data)
    assert "Stripe is receiving too many requests right now. Try again in a minute." in panel
    assert AWAITING not in panel and 'id="refund-form"' in panel
    (row,) = requests_of(sandbox_app, captured.id, "refund")
    assert (row.status, row.error_code) == ("failed", "RateLimited")
    order = reload(sandbox_app, captured.id)
    assert (order.state, order.amount_refunded) == ("captured", 0)

    assert "Refunded $10.00." in act(staff, captured.id, "refund", data)
    assert [s.key for s in http.to("POST", "/v1/refunds")] == [
        f"order-{captured.id}-refund-1000-1",
        f"order-{captured.id}-refund-1000-2",
    ]
    assert our_refunds(localstripe_url, captured.stripe_payment_intent_id) == [1000]
    assert reload(sandbox_app, captured.id).amount_refunded == 1000


def test_refund_answered_with_a_500_and_not_at_stripe_is_closed_without_a_resend(
    sandbox_app, captured, staff, http, localstripe_url
):
    http.arm("POST", "/v1/refunds", "status", 500)
    panel = act(staff, captured.id, "refund", {"amount": "5.00", "reason": "duplicate"})
    assert "A refund of $5.00 is awaiting confirmation from Stripe." in panel

    settled = act(staff, captured.id, "settle")
    assert "Stripe shows the refund did not happen. Nothing moved; you can try again." in settled
    assert len(http.to("POST", "/v1/refunds")) == 1  # looked up by key, not resent
    assert our_refunds(localstripe_url, captured.stripe_payment_intent_id) == []
    assert [r.status for r in requests_of(sandbox_app, captured.id, "refund")] == ["failed"]

    retry = act(staff, captured.id, "refund", {"amount": "5.00", "reason": "duplicate"})
    assert "Refunded $5.00." in retry
    assert our_refunds(localstripe_url, captured.stripe_payment_intent_id) == [500]


def test_refund_unanswered_for_longer_than_stripe_keeps_keys_is_never_resent(
    sandbox_app, captured, staff, http, localstripe_url
):
    """After ~24 h Stripe forgets the key: a resend could refund twice, so none is made."""
    http.arm("POST", "/v1/refunds", "timeout")
    act(staff, captured.id, "refund", {"amount": "5.00", "reason": "duplicate"})
    with sandbox_app.app_context():
        (row,) = db.session.scalars(select(StripeRequest).where(StripeRequest.action == "refund"))
        row.created_at = row.created_at - timedelta(hours=30)
        db.session.commit()

    settled = act(staff, captured.id, "settle")
    assert "Stripe shows the refund did not happen." in settled
    assert [s.outcome for s in http.to("POST", "/v1/refunds")] == ["timeout"]
    assert our_refunds(localstripe_url, captured.stripe_payment_intent_id) == []


# -- the rest of the fault-by-action matrix ----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "said"),
    [
        ("reset", 0, "No answer from Stripe for the {what}."),
        ("status", 409, "The same {what} is still being processed by Stripe."),
    ],
    ids=["connection-reset", "409-key-in-use"],
)
def test_unanswered_void_that_never_ran_is_resent_with_the_same_key(
    sandbox_app, held, staff, http, localstripe_url, kind, status, said
):
    http.arm("POST", "/cancel", kind, status)
    panel = act(staff, held.id, "void", {"reason": "duplicate"})
    assert said.format(what="void") in panel
    assert "A void is awaiting confirmation from Stripe." in panel and 'id="void-form"' not in panel
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == (
        "requires_capture"
    )
    assert reload(sandbox_app, held.id).state == "authorized"

    settled = act(staff, held.id, "settle")
    assert "The hold was released; nothing was charged." in settled and AWAITING not in settled
    first, resent = http.to("POST", "/cancel")
    assert first.key == resent.key == f"order-{held.id}-void-0-1"
    assert (first.reached_stripe, resent.outcome) == (False, "sent")
    assert http.reached("POST", "/cancel") == 1
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "canceled"
    assert [r.status for r in requests_of(sandbox_app, held.id, "void")] == ["succeeded"]
    assert reload(sandbox_app, held.id).state == "voided"


@pytest.mark.parametrize(
    ("kind", "status", "said"),
    [
        ("reset", 0, "No answer from Stripe for the refund."),
        ("status", 409, "The same refund is still being processed by Stripe."),
    ],
    ids=["connection-reset", "409-key-in-use"],
)
def test_unanswered_refund_that_never_ran_is_resent_with_the_same_key(
    sandbox_app, captured, staff, http, localstripe_url, kind, status, said
):
    pi = captured.stripe_payment_intent_id
    http.arm("POST", "/v1/refunds", kind, status)
    panel = act(staff, captured.id, "refund", {"amount": "10.00", "reason": "duplicate"})
    assert said in panel
    assert "A refund of $10.00 is awaiting confirmation from Stripe." in panel
    assert our_refunds(localstripe_url, pi) == []
    assert reload(sandbox_app, captured.id).amount_refunded == 0

    settled = act(staff, captured.id, "settle")
    assert "Refunded $10.00." in settled and AWAITING not in settled
    first, resent = http.to("POST", "/v1/refunds")
    assert first.key == resent.key == f"order-{captured.id}-refund-1000-1"
    assert (first.reached_stripe, resent.outcome) == (False, "sent")
    assert our_refunds(localstripe_url, pi) == [1000]
    order = reload(sandbox_app, captured.id)
    assert (order.state, order.amount_refunded) == ("partially_refunded", 1000)


def test_void_answered_with_a_500_is_settled_by_the_re_read(
    sandbox_app, held, staff, http, localstripe_url
):
    http.arm("POST", "/cancel", "status", 500)
    panel = act(staff, held.id, "void", {"reason": "duplicate"})
    assert "Stripe had an internal error during the void. It may or may not have" in panel
    assert "A void is awaiting confirmation from Stripe." in panel

    settled = act(staff, held.id, "settle")
    assert "Stripe shows the void did not happen. Nothing moved; you can try again." in settled
    assert AWAITING not in settled and 'id="void-form"' in settled
    assert [s.outcome for s in http.to("POST", "/cancel")] == ["status 500"]  # not resent
    assert reload(sandbox_app, held.id).state == "authorized"
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == (
        "requires_capture"
    )

    assert "The hold was released" in act(staff, held.id, "void", {"reason": "duplicate"})
    assert [s.key for s in http.to("POST", "/cancel") if s.outcome == "sent"] == [
        f"order-{held.id}-void-0-2"
    ]
    assert reload(sandbox_app, held.id).state == "voided"


@pytest.mark.parametrize("retries", [MAX_NETWORK_RETRIES])
def test_void_lost_answer_is_replayed_not_repeated(
    sandbox_app, held, staff, http, localstripe_url, retries
):
    """The SDK's own retry after a lost answer gets Stripe's replay of the first 200."""
    http.arm("POST", "/cancel", "lost")
    panel = act(staff, held.id, "void", {"reason": "duplicate"})
    assert "The hold was released; nothing was charged." in panel and AWAITING not in panel
    assert [s.outcome for s in http.to("POST", "/cancel")] == ["lost", "replayed"]
    assert {s.key for s in http.to("POST", "/cancel")} == {f"order-{held.id}-void-0-1"}
    assert http.reached("POST", "/cancel") == 1
    assert reload(sandbox_app, held.id).state == "voided"


@pytest.mark.parametrize("retries", [MAX_NETWORK_RETRIES])
def test_refund_lost_answer_is_replayed_not_repeated(
    sandbox_app, captured, staff, http, localstripe_url, retries
):
    http.arm("POST", "/v1/refunds", "lost")
    panel = act(staff, captured.id, "refund", {"amount": "10.00", "reason": "duplicate"})
    assert "Refunded $10.00." in panel and AWAITING not in panel
    assert [s.outcome for s in http.to("POST", "/v1/refunds")] == ["lost", "replayed"]
    assert our_refunds(localstripe_url, captured.stripe_payment_intent_id) == [1000]
    assert 'id="amount-refunded">$10.00<' in panel
    order = reload(sandbox_app, captured.id)
    assert (order.state, order.amount_refunded) == ("partially_refunded", 1000)


@pytest.mark.parametrize("retries", [MAX_NETWORK_RETRIES])
def test_a_stale_200_replay_never_moves_the_order_back(
    sandbox_app, held, staff, http, localstripe_url, retries
):
    """The capture's answer is lost; before the SDK's retry, a refund happens at Stripe and
    its webhook is applied. The retry gets Stripe's replay of the first 200, which predates
    the refund: it must neither capture again nor undo the refund on the order."""
    pi = held.stripe_payment_intent_id
    real = http.real

    class RefundMeanwhile:
        def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
            answer = real.request(method, url, headers, post_data)
            if method.upper() == "POST" and url.endswith("/capture"):
                refund_at_stripe(localstripe_url, pi, 1000)
                with sandbox_app.app_context():
                    from dashboard.models import Order

                    db.session.execute(
                        update(Order)
                        .where(Order.id == held.id)
                        .values(
                            state="partially_refunded",
                            amount_captured=2500,
                            amount_capturable=0,
                            amount_refunded=1000,
                        )
                    )
                    db.session.commit()
            return answer

        def close(self) -> None:
            real.close()

    http.real = RefundMeanwhile()
    http.arm("POST", "/capture", "lost")
    panel = act(staff, held.id, "capture", {"amount": "25.00"})

    assert [s.outcome for s in http.to("POST", "/capture")] == ["lost", "replayed"]
    assert http.reached("POST", "/capture") == 1
    assert "Captured $25.00." in panel and AWAITING not in panel
    assert 'id="amount-refunded">$10.00<' in panel  # the panel shows the refund, not the replay
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured, order.amount_refunded) == (
        "partially_refunded",
        2500,
        1000,
    )
    (row,) = requests_of(sandbox_app, held.id, "capture")
    assert row.status == "succeeded"
    assert stripe_pi(localstripe_url, pi)["status"] == "succeeded"
