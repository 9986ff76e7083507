"""POST /webhooks/stripe: signatures, the inbox's dedupe, and reconciliation into orders.

Events are Stripe-shaped (Stripe's published examples), signed as Stripe signs them, and
sent to the real endpoint. Where processing re-reads Stripe, the double at the SDK's HTTP
boundary answers (localstripe has no Checkout Sessions, refund failures or disputes).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.domain.buyer_words import GENERIC_DECLINE
from dashboard.extensions import db
from dashboard.models import (
    Dispute,
    OutboxEvent,
    TimelineEntry,
    TimelineKind,
    WebhookRejection,
)
from tests.support.database import outbox_types, reload, state_changes, stored_events
from tests.support.stripe import (
    AMOUNT,
    WEBHOOK_SECRET,
    apply_stored,
    charge,
    completed_session,
    dispute,
    hold_event,
    intent,
    refund,
    send_event,
    stripe_event,
    stripe_signature,
)


@pytest.fixture
def order(make_order: Any) -> Any:
    return make_order(lines=None)


def rejections(app: Any) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (r.reason, r.remote_addr)
            for r in db.session.scalars(select(WebhookRejection).order_by(WebhookRejection.id))
        ]


def post_raw(client: Any, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", data=body, headers=headers)


# -- signatures -----------------------------------------------------------------------------


def test_a_signed_event_is_stored_answered_200_then_applied(app, client, order):
    body = json.dumps(hold_event(order.id, event_id="evt_hold_1")).encode()
    response = post_raw(client, body, stripe_signature(body))
    # The answer promises the event is stored durably and will be applied...
    assert response.status_code == 200
    assert response.get_json() == {"id": "evt_hold_1", "status": "pending", "deliveries": 1}
    (row,) = stored_events(app)
    assert (row.status, row.process_count) == ("pending", 0)
    assert reload(app, order.id).state == "open"
    # ...by the worker's applier, right after the answer.
    apply_stored(app)
    (row,) = stored_events(app)
    assert (row.type, row.status, row.source, row.order_id) == (
        "payment_intent.amount_capturable_updated",
        "applied",
        "webhook",
        order.id,
    )
    assert row.payment_intent_id == "pi_test_hold"
    assert reload(app, order.id).state == "authorized"
    assert rejections(app) == []


def _body(order_id: int) -> bytes:
    return json.dumps(hold_event(order_id)).encode()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no header", "missing_signature"),
        ("empty header", "missing_signature"),
        ("garbage header", "malformed_signature"),
        ("no v1 entry", "malformed_signature"),
        ("other secret", "bad_signature"),
        ("tampered body", "bad_signature"),
        ("signed other timestamp", "bad_signature"),
        ("stale", "stale_timestamp"),
        ("v0 scheme only", "malformed_signature"),
    ],
)
def test_a_bad_signature_is_refused_counted_and_nothing_stored(app, client, order, case, reason):
    body = _body(order.id)
    now = int(time.time())
    good = stripe_signature(body)
    signature, sent = {
        "no header": (None, body),
        "empty header": ("", body),
        "garbage header": ("this is not a signature", body),
        "no v1 entry": (f"t={now}", body),
        "other secret": (stripe_signature(body, "whsec_someone_else"), body),
        "tampered body": (good, body.replace(b'"amount": 3000', b'"amount": 9000')),
        "signed other timestamp": (good.replace(f"t={now}", f"t={now - 1}"), body),
        "stale": (stripe_signature(body, timestamp=now - 301), body),
        "v0 scheme only": (good.replace("v1=", "v0="), body),
    }[case]
    assert sent != body or case != "tampered body"
    response = post_raw(client, sent, signature)
    assert response.status_code == 400
    assert response.get_json()["reason"] == reason
    assert stored_events(app) == []
    assert rejections(app) == [(reason, "127.0.0.1")]
    assert reload(app, order.id).state == "open"


def test_a_signature_just_inside_the_tolerance_is_accepted(app, client, order):
    response = send_event(client, hold_event(order.id), timestamp=int(time.time()) - 290)
    assert response.status_code == 200


def test_every_configured_secret_is_tried_so_a_secret_can_be_rolled(app, client, order):
    app.config["STRIPE_WEBHOOK_SECRETS"] = ["whsec_old_one", WEBHOOK_SECRET]
    assert send_event(client, hold_event(order.id), secret="whsec_old_one").status_code == 200
    second = hold_event(order.id)
    assert send_event(client, second, secret=WEBHOOK_SECRET).status_code == 200
    # While Stripe rolls a secret it signs with both: one header, two v1 entries.
    body = json.dumps(hold_event(order.id)).encode()
    old = stripe_signature(body, "whsec_old_one")
    new = stripe_signature(body, "whsec_brand_new")
    both = f"{old},v1={new.split('v1=')[1]}"
    app.config["STRIPE_WEBHOOK_SECRETS"] = ["whsec_brand_new"]
    assert post_raw(client, body, both).status_code == 200
    assert len(stored_events(app)) == 3


def test_without_a_configured_secret_nothing_is_accepted_and_stripe_retries(app, client, order):
    app.config["STRIPE_WEBHOOK_SECRETS"] = []
    response = send_event(client, hold_event(order.id))
    assert response.status_code == 503  # a 5xx: Stripe keeps the event and retries
    assert stored_events(app) == []
    assert rejections(app) == [("no_secret", "127.0.0.1")]


def test_a_body_over_the_limit_is_refused_with_413_before_verifying(app, client, order):
    app.config["WEBHOOK_MAX_BYTES"] = 2048
    event = hold_event(order.id)
    event["data"]["object"]["description"] = "x" * 4096
    response = send_event(client, event)
    assert response.status_code == 413
    assert rejections(app) == [("too_large", "127.0.0.1")]
    assert stored_events(app) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "invalid_payload"),
        (b"[1, 2, 3]", "invalid_payload"),
        (b'{"id": "evt_1", "type": "x"}', "invalid_payload"),
        (b'{"id": 7, "type": "x", "created": 1, "data": {"object": {}}}', "invalid_payload"),
        # a time no date can hold, and a boolean where Stripe puts seconds
        (
            b'{"id": "evt_1", "type": "x", "created": 1e30, "data": {"object": {}}}',
            "invalid_payload",
        ),
        (
            b'{"id": "evt_1", "type": "x", "created": 10000000000000, "data": {"object": {}}}',
            "invalid_payload",
        ),
        (
            b'{"id": "evt_1", "type": "x", "created": true, "data": {"object": {}}}',
            "invalid_payload",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_payload"),  # deeper than the parser goes
        (  # parsed, but deeper than any Stripe object: redacting it would exhaust recursion
            b'{"id": "evt_1", "type": "x", "created": 1, "data": {"object": '
            + b'{"a": ' * 600
            + b"{}"
            + b"}" * 600
            + b"}}",
            "invalid_payload",
        ),
        (b"\xff\xfe not utf-8", "invalid_body"),
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(app, client, body, reason):
    response = post_raw(
        client, body, stripe_signature(body) if reason != "invalid_body" else "t=1,v1=0"
    )
    assert response.status_code == 400
    assert response.get_json()["reason"] == reason
    assert stored_events(app) == []


def test_the_endpoint_needs_no_csrf_token_and_takes_no_form_posts(app, client):
    response = client.post("/webhooks/stripe", data={"csrf_token": "irrelevant"})
    assert response.status_code == 400
    assert response.get_json()["reason"] == "missing_signature"


# -- the inbox: once per event id ----------------------------------------------------------


def test_a_redelivery_is_counted_and_never_applied_twice(app, client, order):
    event = stripe_event(
        "payment_intent.succeeded",
        intent(order.id, status="succeeded", received=AMOUNT),
        event_id="evt_twice",
    )
    first = send_event(client, event)
    again = send_event(client, event)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == {"id": "evt_twice", "status": "applied", "deliveries": 2}
    (row,) = stored_events(app)
    assert (row.delivery_count, row.process_count) == (2, 1)
    assert row.last_received_at >= row.first_received_at
    assert [c["to"] for c in state_changes(app, order.id)] == ["captured"]
    assert outbox_types(app, order.id) == ["PAYMENT_SUCCEEDED"]
    with app.app_context():
        webhook_entries = db.session.scalar(
            select(func.count()).where(TimelineEntry.kind == TimelineKind.WEBHOOK.value)
        )
    assert webhook_entries == 1


def test_an_unknown_event_type_is_stored_ignored_and_answered_200(app, client, order):
    response = send_event(
        client, stripe_event("product.created", {"object": "product", "id": "prod_1"})
    )
    assert response.status_code == 200
    (row,) = stored_events(app)
    assert row.status == "ignored"
    assert "not an event this dashboard acts on" in row.reason


@pytest.mark.parametrize(("key", "event_live"), [("sk_test_x", True), ("sk_live_x", False)])
def test_an_event_of_the_other_mode_is_ignored_with_that_reason(
    app, client, order, key, event_live
):
    app.config["STRIPE_SECRET_KEY"] = key
    response = send_event(client, hold_event(order.id, livemode=event_live))
    assert response.status_code == 200
    (row,) = stored_events(app)
    assert row.status == "ignored"
    mode = "live" if event_live else "test"
    assert row.reason.startswith(f"A {mode}-mode event reached this")
    assert reload(app, order.id).state == "open"


def test_an_event_for_no_known_order_is_kept_as_unmatched(app, client, order):
    orphan = intent(None, id="pi_nobody_knows", status="requires_capture", capturable=AMOUNT)
    response = send_event(client, stripe_event("payment_intent.amount_capturable_updated", orphan))
    assert response.status_code == 200
    (row,) = stored_events(app)
    assert row.status == "unmatched"
    assert "pi_nobody_knows" in row.reason
    assert row.order_id is None


def test_client_secrets_are_not_stored(app, client, order):
    send_event(client, hold_event(order.id))
    (row,) = stored_events(app)
    assert row.payload["data"]["object"]["client_secret"] == "[redacted]"
    assert "secret_do_not_show" not in json.dumps(row.payload)


# -- finding the order --------------------------------------------------------------------


def test_an_event_finds_its_order_by_the_stored_ids_without_metadata(app, client, make_order):
    order = make_order(
        state="authorized",
        stripe_payment_intent_id="pi_known",
        stripe_charge_id="ch_known",
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    captured = charge(
        None,
        id="ch_known",
        payment_intent="pi_known",
        captured=True,
        amount_captured=AMOUNT,
    )
    assert send_event(client, stripe_event("charge.captured", captured)).status_code == 200
    assert reload(app, order.id).state == "captured"


def test_a_late_event_of_an_earlier_attempt_leaves_the_new_attempt_alone(app, client, make_order):
    order = make_order(state="processing", stripe_payment_intent_id="pi_second_try")
    failed_first = intent(
        order.id,
        id="pi_first_try",
        status="requires_payment_method",
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )
    send_event(client, stripe_event("payment_intent.payment_failed", failed_first))
    (row,) = stored_events(app)
    assert row.status == "ignored"
    assert "pi_first_try" in row.reason and "earlier attempt" in row.reason
    assert reload(app, order.id).state == "processing"


# -- reconciliation -------------------------------------------------------------------------


def test_a_decline_fails_the_attempt_and_a_later_hold_still_wins(app, client, order):
    declined = intent(
        order.id,
        status="requires_payment_method",
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )
    send_event(client, stripe_event("payment_intent.payment_failed", declined))
    assert reload(app, order.id).state == "failed"
    assert reload(app, order.id).last_payment_error == GENERIC_DECLINE
    send_event(client, hold_event(order.id))
    assert reload(app, order.id).state == "authorized"
    assert outbox_types(app, order.id) == ["PAYMENT_FAILED"]


@pytest.mark.parametrize(
    ("type_", "obj", "state"),
    [
        ("payment_intent.requires_action", {"status": "requires_action"}, "processing"),
        ("payment_intent.processing", {"status": "processing"}, "processing"),
        (
            "payment_intent.canceled",
            {"status": "canceled", "cancellation_reason": "requested_by_customer"},
            "voided",
        ),
        (
            "payment_intent.canceled",
            {"status": "canceled", "cancellation_reason": "automatic"},
            "expired",
        ),
    ],
)
def test_payment_intent_events_move_the_order(app, client, order, type_, obj, state):
    send_event(client, stripe_event(type_, intent(order.id, **obj)))
    assert reload(app, order.id).state == state


def test_a_lapsed_hold_reported_on_the_charge_expires_the_order(app, client, make_order):
    order = make_order(
        state="authorized", stripe_payment_intent_id="pi_test_hold", amount_capturable=AMOUNT
    )
    send_event(client, stripe_event("charge.expired", charge(order.id)))
    row = reload(app, order.id)
    assert row.state == "expired"


def test_a_released_uncaptured_charge_reads_as_a_void(app, client, make_order):
    order = make_order(
        state="authorized", stripe_payment_intent_id="pi_test_hold", amount_capturable=AMOUNT
    )
    released = charge(order.id, refunded=True, amount_refunded=AMOUNT)
    send_event(client, stripe_event("charge.refunded", released))
    assert reload(app, order.id).state == "voided"


def test_a_capture_made_in_stripes_dashboard_is_applied_and_labelled(app, client, make_order):
    order = make_order(
        state="authorized", stripe_payment_intent_id="pi_test_hold", amount_capturable=AMOUNT
    )
    partial = intent(order.id, status="succeeded", received=1800)
    send_event(client, stripe_event("payment_intent.succeeded", partial))
    row = reload(app, order.id)
    assert (row.state, row.amount_captured, row.amount_capturable) == ("captured", 1800, 0)
    (event,) = stored_events(app)
    assert "captured outside the dashboard" in event.reason
    (change,) = state_changes(app, order.id)
    assert "captured outside the dashboard" in change["source"]


def test_a_refund_made_in_stripes_dashboard_is_applied_and_labelled(app, client, make_order):
    order = make_order(
        state="captured",
        stripe_payment_intent_id="pi_test_hold",
        amount_authorized=AMOUNT,
        amount_captured=AMOUNT,
    )
    refunded = charge(order.id, captured=True, amount_captured=AMOUNT, refunds=700)
    send_event(client, stripe_event("charge.refunded", refunded))
    row = reload(app, order.id)
    assert (row.state, row.amount_refunded) == ("partially_refunded", 700)
    (event,) = stored_events(app)
    assert "refund made outside the dashboard" in event.reason


def test_a_capture_event_settles_our_own_unanswered_capture(app, client, make_order):
    from dashboard.models import RequestStatus, StripeRequest

    order = make_order(
        state="authorized", stripe_payment_intent_id="pi_test_hold", amount_capturable=AMOUNT
    )
    with app.app_context():
        db.session.add(
            StripeRequest(
                order_id=order.id,
                action="capture",
                amount=AMOUNT,
                idempotency_key=f"order-{order.id}-capture-{AMOUNT}-1",
                status=RequestStatus.UNKNOWN.value,
            )
        )
        db.session.commit()
    send_event(
        client,
        stripe_event(
            "payment_intent.succeeded", intent(order.id, status="succeeded", received=AMOUNT)
        ),
    )
    with app.app_context():
        request = db.session.scalar(select(StripeRequest))
        assert request is not None
        assert request.status == "succeeded"
    (event,) = stored_events(app)
    assert "outside the dashboard" not in event.reason
    assert reload(app, order.id).state == "captured"


# -- refunds that fail later ---------------------------------------------------------------


@pytest.fixture
def refunded_order(live_app: Any, stripe_http: Any, make_order: Any) -> Any:
    """Captured in full, 1000 refunded by us; Stripe's double knows the payment."""
    order = make_order(
        state="partially_refunded",
        stripe_payment_intent_id="pi_test_hold",
        amount_authorized=AMOUNT,
        amount_captured=AMOUNT,
        amount_refunded=1000,
    )
    stripe_http.intents["pi_test_hold"] = intent(
        order.id,
        status="succeeded",
        received=AMOUNT,
        latest_charge=charge(order.id, captured=True, amount_captured=AMOUNT, refunds=0),
    )
    return order


def test_a_refund_that_fails_later_puts_the_money_back_on_the_order(
    live_app, client, refunded_order, stripe_http
):
    failed = refund(amount=1000, status="failed", failure_reason="expired_or_canceled_card")
    response = send_event(client, stripe_event("charge.refund.updated", failed))
    assert response.status_code == 200
    row = reload(live_app, refunded_order.id)
    assert (row.state, row.amount_refunded) == ("captured", 0)
    assert row.refund_failed_at is not None
    (change,) = state_changes(live_app, refunded_order.id)
    assert (change["from"], change["to"], change["event"]) == (
        "partially_refunded",
        "captured",
        "refund_failed",
    )
    # A late charge.refunded still counting that refund is checked against Stripe.
    stale = charge(refunded_order.id, captured=True, amount_captured=AMOUNT, refunds=1000)
    send_event(client, stripe_event("charge.refunded", stale))
    assert reload(live_app, refunded_order.id).amount_refunded == 0


def test_a_refund_event_marks_our_refund_request_failed(
    live_app, client, refunded_order, stripe_http
):
    from dashboard.models import RequestStatus, StripeRequest

    key = f"order-{refunded_order.id}-refund-1000-1"
    with live_app.app_context():
        db.session.add(
            StripeRequest(
                order_id=refunded_order.id,
                action="refund",
                amount=1000,
                idempotency_key=key,
                status=RequestStatus.SUCCEEDED.value,
            )
        )
        db.session.commit()
    failed = refund(
        amount=1000, status="failed", idempotency_key=key, failure_reason="lost_or_stolen_card"
    )
    send_event(client, stripe_event("refund.failed", failed))
    with live_app.app_context():
        request = db.session.scalar(select(StripeRequest))
        assert request is not None
        assert (request.status, request.error_code) == ("failed", "refund_failed")
    (event,) = stored_events(live_app)
    assert key in event.reason


# -- checkout sessions ------------------------------------------------------------------


def test_checkout_completed_reads_the_hold_from_stripe(live_app, client, make_order, stripe_http):
    order = make_order(state="processing", stripe_checkout_session_id="cs_test_1")
    stripe_http.intents["pi_from_checkout"] = intent(
        order.id, id="pi_from_checkout", status="requires_capture", capturable=AMOUNT
    )
    session = completed_session(order.id, id="cs_test_1", payment_intent="pi_from_checkout")
    response = send_event(client, stripe_event("checkout.session.completed", session))
    assert response.status_code == 200
    row = reload(live_app, order.id)
    assert (row.state, row.stripe_payment_intent_id, row.amount_capturable) == (
        "authorized",
        "pi_from_checkout",
        AMOUNT,
    )


def test_flask_stripe_apply_applies_what_the_endpoint_stored(app, client, order):
    """With the workers' applier turned off (as in these tests), cron's `flask stripe
    apply` applies what was acknowledged, once; a second run finds nothing."""
    answer = send_event(client, hold_event(order.id, event_id="evt_cron_1"), apply=False)
    assert answer.status_code == 200 and answer.get_json()["status"] == "pending"
    assert reload(app, order.id).state == "open"
    runner = app.test_cli_runner()
    first = runner.invoke(args=["stripe", "apply"])
    again = runner.invoke(args=["stripe", "apply", "--page", "5"])
    assert (first.exit_code, first.output) == (0, "Applied 1 stored event in 1 page.\n")
    assert (again.exit_code, again.output) == (0, "Applied 0 stored events in 1 page.\n")
    (row,) = stored_events(app)
    assert (row.status, row.process_count, row.delivery_count) == ("applied", 1, 1)
    assert reload(app, order.id).state == "authorized"


def test_a_failed_processing_is_kept_and_applies_on_redelivery(
    app, client, make_order, stripe_http
):
    """No Stripe key yet: the completed session's payment cannot be read. The delivery was
    stored (2xx); the failure is kept on the event, and Stripe's next delivery of it (or
    Reprocess) applies it again."""
    order = make_order(state="processing", stripe_checkout_session_id="cs_test_2")
    session = completed_session(
        order.id, id="cs_test_2", payment_intent="pi_from_checkout_2", metadata=False
    )
    event = stripe_event("checkout.session.completed", session, event_id="evt_fails_first")
    response = send_event(client, event)
    assert response.status_code == 200
    (row,) = stored_events(app)
    assert row.status == "failed"
    assert row.error.startswith("StripeConfigurationError")
    assert "in on_checkout_session" in row.traceback
    assert reload(app, order.id).state == "processing"  # the savepoint rolled it all back

    from dashboard.payments.stripe_gateway import StripeGateway

    app.config["STRIPE_SECRET_KEY"] = "sk_test_x"
    app.extensions["stripe_gateway"] = StripeGateway(
        secret_key="sk_test_x", http_client=stripe_http, max_network_retries=0
    )
    stripe_http.intents["pi_from_checkout_2"] = intent(
        order.id, id="pi_from_checkout_2", status="requires_capture", capturable=AMOUNT
    )
    again = send_event(client, event)
    assert again.status_code == 200
    (row,) = stored_events(app)
    assert (row.status, row.delivery_count, row.process_count, row.error) == (
        "applied",
        2,
        2,
        None,
    )
    assert reload(app, order.id).state == "authorized"


def test_an_expired_checkout_fails_the_attempt_but_keeps_the_link_payable(app, client, make_order):
    from tests.support.stripe import stripe_example

    order = make_order(state="processing", stripe_checkout_session_id="cs_test_3")
    session = stripe_example("checkout_session")
    session.update(id="cs_test_3", status="expired", payment_status="unpaid", payment_intent=None)
    send_event(client, stripe_event("checkout.session.expired", session))
    assert reload(app, order.id).state == "failed"


# -- disputes -----------------------------------------------------------------------------


def test_a_dispute_flags_the_order_and_closes_with_its_outcome(app, client, make_order):
    order = make_order(
        state="captured",
        stripe_payment_intent_id="pi_test_hold",
        stripe_charge_id="ch_test_hold",
        amount_captured=AMOUNT,
    )
    due = int(time.time()) + 5 * 86400
    send_event(
        client, stripe_event("charge.dispute.created", dispute(status="needs_response", due_by=due))
    )
    send_event(
        client,
        stripe_event(
            "charge.dispute.funds_withdrawn", dispute(status="needs_response", due_by=due)
        ),
    )
    send_event(client, stripe_event("charge.dispute.closed", dispute(status="won", due_by=due)))
    # A late "updated" from before the close does not reopen it.
    send_event(
        client, stripe_event("charge.dispute.updated", dispute(status="under_review", due_by=due))
    )
    with app.app_context():
        (flag,) = db.session.scalars(select(Dispute)).all()
        assert (flag.order_id, flag.amount, flag.reason, flag.status) == (
            order.id,
            AMOUNT,
            "fraudulent",
            "won",
        )
        assert flag.funds_withdrawn and not flag.funds_reinstated
        assert flag.evidence_due_by is not None and int(flag.evidence_due_by.timestamp()) == due
        assert not flag.is_open and flag.outcome == "Won"
    assert reload(app, order.id).state == "captured"
    assert {e.status for e in stored_events(app)} == {"applied"}


def test_a_won_or_lost_dispute_moves_to_an_appeal_and_to_its_outcome(app, client, make_order):
    """The pinned API version's appeal statuses ranked first: a dispute already closed never
    moved to an appeal. Now it does, the appeal's outcome closes it again, and an event older
    than the status shown (in any arrival order) changes nothing."""
    make_order(
        state="captured",
        stripe_payment_intent_id="pi_test_hold",
        stripe_charge_id="ch_test_hold",
        amount_captured=AMOUNT,
    )
    start = int(time.time()) - 3600

    def said(status: str, minutes: int) -> dict[str, Any]:
        kind = "charge.dispute.closed" if status in ("won", "lost") else "charge.dispute.updated"
        return stripe_event(kind, dispute(status=status), created=start + 60 * minutes)

    def shown() -> tuple[str, bool, str | None]:
        with app.app_context():
            (row,) = db.session.scalars(select(Dispute)).all()
            return row.status, row.is_open, row.outcome

    created = stripe_event(
        "charge.dispute.created", dispute(status="needs_response"), created=start
    )
    send_event(client, created)
    send_event(client, said("lost", 1))
    assert shown() == ("lost", False, "Lost")
    appeal_review = said("appeal_under_review", 3)
    send_event(client, said("appeal_needs_response", 2))
    assert shown() == ("appeal_needs_response", True, None)
    send_event(client, said("won", 4))  # the appeal's outcome, arriving before its review
    assert shown() == ("won", False, "Won")
    send_event(client, appeal_review)  # older than the outcome: changes nothing
    send_event(client, said("needs_response", 0))
    assert shown() == ("won", False, "Won")


def test_a_prevented_dispute_is_closed(app, client, make_order):
    make_order(state="captured", stripe_payment_intent_id="pi_test_hold", amount_captured=AMOUNT)
    send_event(client, stripe_event("charge.dispute.created", dispute(status="needs_response")))
    send_event(client, stripe_event("charge.dispute.closed", dispute(status="prevented")))
    with app.app_context():
        (row,) = db.session.scalars(select(Dispute)).all()
        assert (row.status, row.is_open, row.outcome) == ("prevented", False, "Prevented")


def test_no_outbox_event_is_written_twice_across_redeliveries(app, client, order):
    events = [
        hold_event(order.id),
        stripe_event(
            "payment_intent.succeeded", intent(order.id, status="succeeded", received=AMOUNT)
        ),
    ]
    for _ in range(3):
        for event in events:
            send_event(client, event)
    with app.app_context():
        keys = list(db.session.scalars(select(OutboxEvent.dedupe_key)))
    assert len(keys) == len(set(keys)) == 1


# -- hostile payloads ---------------------------------------------------------------------


def test_nul_and_markup_in_a_payload_are_kept_safely_and_never_used_as_ids(app, client, order):
    """PostgreSQL refuses NUL in text: such a payload must still end in a stored status."""
    hostile = intent(None, id="pi_x\u0000<b>", status="processing")
    hostile["metadata"] = {"order_id": "\u0000x"}
    response = send_event(client, stripe_event("payment_intent.processing", hostile))
    assert response.status_code == 200
    (row,) = stored_events(app)
    assert row.status == "unmatched"
    assert row.payment_intent_id is None and row.object_id is None
    assert "\x00" not in (row.reason or "")


@pytest.mark.parametrize("bad", ["evt_\u0000", "evt <script>", ""])
def test_an_event_id_that_is_not_stripes_is_refused(app, client, order, bad):
    response = send_event(client, hold_event(order.id, event_id=bad or None) | {"id": bad})
    assert response.status_code == 400
    assert stored_events(app) == []


def test_a_dispute_in_a_currency_code_that_is_not_one_takes_the_orders(app, client, make_order):
    make_order(state="captured", stripe_payment_intent_id="pi_test_hold", amount_captured=AMOUNT)
    weird = dispute(status="needs_response") | {"currency": "<b>", "reason": "<i>\u0000"}
    assert send_event(client, stripe_event("charge.dispute.created", weird)).status_code == 200
    with app.app_context():
        (flag,) = db.session.scalars(select(Dispute)).all()
        assert (flag.currency, flag.reason) == ("USD", "general")


def test_the_part_of_a_hold_a_partial_capture_released_is_not_a_refund(app, client, make_order):
    """Stripe: on a partial capture "any additional amount will be automatically refunded",
    and the charge's amount_refunded counts it."""
    order = make_order(
        state="authorized", stripe_payment_intent_id="pi_test_hold", amount_capturable=AMOUNT
    )
    partial = charge(order.id, captured=True, amount_captured=1800)
    assert partial["amount_refunded"] == AMOUNT - 1800
    send_event(client, stripe_event("charge.captured", partial))
    row = reload(app, order.id)
    assert (row.state, row.amount_captured, row.amount_refunded) == ("captured", 1800, 0)
    refunded = charge(order.id, captured=True, amount_captured=1800, refunds=300)
    send_event(client, stripe_event("charge.refunded", refunded))
    row = reload(app, order.id)
    assert (row.state, row.amount_refunded) == ("partially_refunded", 300)


def test_refusals_are_kept_thirty_days(app, client):
    from datetime import timedelta

    from dashboard.models import utcnow

    with app.app_context():
        for age in (31, 29):
            db.session.add(
                WebhookRejection(
                    reason="bad_signature",
                    remote_addr="198.51.100.7",
                    minute=utcnow() - timedelta(days=age),
                )
            )
        db.session.commit()
    post_raw(client, b"{}", None)
    assert sorted(rejections(app)) == [
        ("bad_signature", "198.51.100.7"),
        ("missing_signature", "127.0.0.1"),
    ]


def test_a_flood_of_refusals_is_counted_without_growing_the_database(app, client):
    """50 unsigned posts wrote 50 rows, each kept 30 days: now one count for the minute."""
    for _ in range(50):
        assert post_raw(client, b'{"junk": true}', None).status_code == 400
    with app.app_context():
        counted = db.session.scalars(select(WebhookRejection)).all()
        assert len(counted) <= 2  # one a minute (two if the posts straddled a minute)
        assert sum(row.count for row in counted) == 50
        assert {(row.reason, row.remote_addr) for row in counted} == {
            ("missing_signature", "127.0.0.1")
        }
