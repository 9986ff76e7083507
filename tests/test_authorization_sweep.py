"""`flask stripe sweep-holds`, the capture queue, and the lock that keeps sweeps apart.

Drift is made for real: the hold is captured or cancelled at localstripe directly, as in
Stripe's own Dashboard, bypassing ours, with no webhook reaching us. Only the Checkout
case (localstripe has no Checkout Sessions) is answered by the double at the SDK's HTTP
boundary.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text, update

from dashboard.config import ConfigError, from_environment
from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import Order, Role, StripeRequest, TimelineEntry, utcnow
from dashboard.services.sweep_lock import sweep_lock
from tests.support.database import reload, requests_of, state_changes, sweep_lock_held_elsewhere
from tests.support.localstripe import capture_at_stripe, localstripe, stripe_pi
from tests.support.web import pay_link, pay_with_test_card, post_form


def set_columns(app: Flask, order_id: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == order_id).values(**values))
        db.session.commit()


def timeline_of(app: Flask, order_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (entry.kind, entry.summary)
            for entry in db.session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.order_id == order_id)
                .order_by(TimelineEntry.id)
            )
        ]


def sweep(runner, *args: str) -> Any:
    return runner.invoke(args=["stripe", "sweep-holds", "--older-than", "0s", *args])


# -- drift ----------------------------------------------------------------------------------


def test_a_hold_captured_at_stripe_is_drift_recorded_and_applied(
    sandbox_app, runner, localstripe_url, held
):
    capture_at_stripe(localstripe_url, held.stripe_payment_intent_id)

    result = sweep(runner)

    assert result.exit_code == 3, result.output
    assert "Re-read 1 order at Stripe" in result.stdout
    assert "Drift on 1 order, each recorded on its timeline:" in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if line.startswith(f"  #{held.id} ")]
    assert f"{held.stripe_payment_intent_id} succeeded" in row
    assert "authorized here, captured at Stripe (succeeded)" in row
    assert "held $25.00 here, $0.00 at Stripe; captured $0.00 here, $25.00 at Stripe" in row
    assert row.endswith("corrected: Authorized → Captured")
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured, order.amount_capturable) == ("captured", 2500, 0)
    entries = timeline_of(sandbox_app, held.id)
    (at,) = [i for i, (_, summary) in enumerate(entries) if "Authorization sweep" in summary]
    assert entries[at] == (
        "api_call",
        "Authorization sweep found drift: authorized here, captured at Stripe (succeeded); "
        "held $25.00 here, $0.00 at Stripe; captured $0.00 here, $25.00 at Stripe. "
        "Corrected: Authorized → Captured.",
    )
    assert entries[at + 1] == (
        "state_change",
        "Authorized → Captured (payment intent succeeded, from authorization sweep)",
    )
    assert state_changes(sandbox_app, held.id)[-1]["source"] == "authorization sweep"

    changes = state_changes(sandbox_app, held.id)
    again = sweep(runner)

    assert again.exit_code == 0, again.output
    assert "No drift: every order re-read agrees with Stripe." in again.stdout
    assert state_changes(sandbox_app, held.id) == changes


def test_a_hold_cancelled_at_stripe_is_drift_and_the_order_voided(
    sandbox_app, runner, localstripe_url, held
):
    localstripe(localstripe_url, f"/v1/payment_intents/{held.stripe_payment_intent_id}/cancel", {})

    result = sweep(runner)

    assert result.exit_code == 3, result.output
    assert "authorized here, voided at Stripe (canceled)" in result.stdout
    assert "corrected: Authorized → Voided" in result.stdout
    assert reload(sandbox_app, held.id).state == OrderState.VOIDED.value
    assert requests_of(sandbox_app, held.id, "void") == []  # not ours: recorded as found


def test_orders_younger_than_the_threshold_are_left_to_their_webhooks(
    sandbox_app, runner, localstripe_url, held
):
    capture_at_stripe(localstripe_url, held.stripe_payment_intent_id)

    result = runner.invoke(args=["stripe", "sweep-holds"])  # --older-than 1h

    assert result.exit_code == 0, result.output
    assert "Re-read 0 orders at Stripe (not final, created 1h or more ago)." in result.stdout
    assert reload(sandbox_app, held.id).state == OrderState.AUTHORIZED.value


def test_orders_older_than_the_window_are_not_re_read(sandbox_app, runner, localstripe_url, held):
    capture_at_stripe(localstripe_url, held.stripe_payment_intent_id)
    set_columns(sandbox_app, held.id, created_at=utcnow() - timedelta(days=31))

    outside = sweep(runner)
    wider = sweep(runner, "--within", "60d")

    assert (outside.exit_code, "Re-read 0 orders" in outside.stdout) == (0, True)
    assert (wider.exit_code, "Re-read 1 order " in wider.stdout) == (3, True)
    assert reload(sandbox_app, held.id).state == OrderState.CAPTURED.value


def test_orders_the_sweep_cannot_compare_are_listed_not_guessed_at(
    sandbox_app, runner, make_order, held
):
    gone = make_order(state="authorized", stripe_payment_intent_id="pi_unknown_to_stripe")
    with sandbox_app.app_context():
        db.session.add(
            StripeRequest(
                order_id=held.id,
                action="capture",
                amount=2500,
                idempotency_key=f"order-{held.id}-capture-2500-1",
                status="unknown",
            )
        )
        db.session.commit()

    result = sweep(runner)

    assert result.exit_code == 1, result.output
    assert "Could not be read (1):" in result.stdout
    assert f"#{gone.id}" in result.stdout
    assert "Stripe refused to read payment intent." in result.stdout  # localstripe's 404
    assert "Not compared, a request is in flight (1):" in result.stdout
    assert "a capture sent" in result.stdout and "Check with Stripe" in result.stdout
    assert reload(sandbox_app, gone.id).state == OrderState.AUTHORIZED.value


def test_a_checkout_paid_while_its_webhook_was_missed_is_found(live_app, stripe_http, make_order):
    order = make_order()
    post_form(live_app.test_client(), f"{pay_link(live_app, order.id)}/checkout")
    session = stripe_http.only_session()
    intent = stripe_http.complete(session["id"], payment_status="paid")
    assert reload(live_app, order.id).state == OrderState.PROCESSING.value

    result = live_app.test_cli_runner().invoke(args=["stripe", "sweep-holds", "--older-than", "0s"])

    assert result.exit_code == 3, result.output
    assert "processing here, authorized at Stripe (requires_capture)" in result.stdout
    authorized = reload(live_app, order.id)
    assert authorized.state == OrderState.AUTHORIZED.value
    assert authorized.stripe_payment_intent_id == intent["id"]
    assert authorized.capture_before is not None


# -- deadlines: the expiring list, the capture queue, voiding -------------------------------


@pytest.fixture
def deadlines(app, make_order) -> dict[str, Order]:
    now = utcnow()
    holds = {
        "later": make_order(state="authorized", capture_before=now + timedelta(days=3)),
        "soon": make_order(state="authorized", capture_before=now + timedelta(hours=5)),
        "overdue": make_order(state="authorized", capture_before=now - timedelta(hours=1)),
        "sooner": make_order(state="authorized", capture_before=now + timedelta(hours=1)),
        "unknown": make_order(state="authorized"),
        "captured": make_order(state="captured", capture_before=now + timedelta(hours=2)),
    }
    for order in holds.values():
        set_columns(app, order.id, amount_capturable=2500)
    return holds


def test_holds_expiring_within_24_hours_are_listed_soonest_first(app, deadlines):
    result = app.test_cli_runner().invoke(args=["stripe", "sweep-holds"])

    assert result.exit_code == 0, result.output
    out = result.stdout
    expiring = out.split("Holds expiring within 24 h (2):")[1].split("Holds past")[0]
    numbers = re.findall(r"^  #(\d+) ", expiring, flags=re.MULTILINE)
    assert numbers == [str(deadlines["sooner"].id), str(deadlines["soon"].id)]
    assert "$25.00" in expiring
    past = out.split("Holds past their capture deadline (1):")[1]
    assert re.findall(r"^  #(\d+) ", past, flags=re.MULTILINE) == [str(deadlines["overdue"].id)]
    assert "Not voided: run with --void-expired" in out


def test_the_orders_page_shows_the_capture_queue_by_deadline(app, signed_in, deadlines):
    client = signed_in(Role.SUPPORT)

    page = client.get("/orders").get_data(as_text=True)

    queue = page.split('id="capture-queue"')[1].split("</table>")[0]
    rows = {
        int(number): row
        for row in queue.split("<tr")[2:]
        for number in re.findall(r'href="/orders/(\d+)"', row)
    }
    order = ["overdue", "sooner", "soon", "later", "unknown"]
    assert list(rows) == [deadlines[name].id for name in order]
    assert "past deadline" in rows[deadlines["overdue"].id]
    assert "within 24 h" in rows[deadlines["sooner"].id]
    assert "within 24 h" in rows[deadlines["soon"].id]
    assert "within 24 h" not in rows[deadlines["later"].id]
    assert "not known" in rows[deadlines["unknown"].id]
    assert 'class="deadline urgent"' in rows[deadlines["soon"].id]
    assert "capture-queue" not in client.get("/orders?state=open").get_data(as_text=True)
    assert "capture-queue" not in client.get("/orders?q=buyer").get_data(as_text=True)


@pytest.fixture
def overdue(sandbox_app, held) -> Order:
    set_columns(sandbox_app, held.id, capture_before=utcnow() - timedelta(minutes=5))
    return held


def test_voiding_needs_the_merchants_setting(sandbox_app, runner, localstripe_url, overdue):
    refused = sweep(runner, "--void-expired")

    assert refused.exit_code == 2
    assert "SWEEP_VOID_EXPIRED_HOLDS=1" in refused.output
    assert stripe_pi(localstripe_url, overdue.stripe_payment_intent_id)["status"] == (
        "requires_capture"
    )
    assert requests_of(sandbox_app, overdue.id, "void") == []


def test_with_the_setting_alone_holds_past_their_deadline_are_only_listed(
    sandbox_app, runner, localstripe_url, overdue
):
    sandbox_app.config["SWEEP_VOID_EXPIRED_HOLDS"] = True

    result = sweep(runner)

    assert result.exit_code == 0, result.output
    assert "Holds past their capture deadline (1):" in result.stdout
    assert "Not voided" in result.stdout
    assert reload(sandbox_app, overdue.id).state == OrderState.AUTHORIZED.value
    assert stripe_pi(localstripe_url, overdue.stripe_payment_intent_id)["status"] == (
        "requires_capture"
    )


def test_holds_past_their_deadline_are_voided_when_enabled_and_asked(
    sandbox_app, runner, localstripe_url, make_order, overdue
):
    sandbox_app.config["SWEEP_VOID_EXPIRED_HOLDS"] = True
    not_yet = make_order()
    pay_with_test_card(sandbox_app, not_yet.id)
    set_columns(sandbox_app, not_yet.id, capture_before=utcnow() + timedelta(hours=2))

    result = sweep(runner, "--void-expired")

    assert result.exit_code == 0, result.output
    voids = result.stdout.split("Voids (1):")[1]
    (row,) = [line for line in voids.splitlines() if line.startswith(f"  #{overdue.id} ")]
    assert "voided" in row and "The hold was released; nothing was charged." in row
    assert reload(sandbox_app, overdue.id).state == OrderState.VOIDED.value
    assert stripe_pi(localstripe_url, overdue.stripe_payment_intent_id)["status"] == "canceled"
    (void,) = requests_of(sandbox_app, overdue.id, "void")
    assert (void.status, void.reason, void.actor_id) == ("succeeded", "abandoned", None)
    summaries = [summary for _, summary in timeline_of(sandbox_app, overdue.id)]
    assert any(s.startswith("Authorization sweep: the hold's capture deadline") for s in summaries)
    assert "The system asked to void the hold of $25.00 (Abandoned)" in summaries
    paid = reload(sandbox_app, not_yet.id)
    assert paid.state == OrderState.AUTHORIZED.value
    assert stripe_pi(localstripe_url, paid.stripe_payment_intent_id)["status"] == (
        "requires_capture"
    )


@pytest.mark.parametrize(("raw", "enabled"), [("", False), ("0", False), ("1", True)])
def test_the_void_setting_is_read_from_the_environment(monkeypatch, tmp_path, raw, enabled):
    monkeypatch.setenv("SWEEP_VOID_EXPIRED_HOLDS", raw)
    assert from_environment(tmp_path)["SWEEP_VOID_EXPIRED_HOLDS"] is enabled


def test_a_misspelt_void_setting_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SWEEP_VOID_EXPIRED_HOLDS", "yes")
    with pytest.raises(ConfigError, match="SWEEP_VOID_EXPIRED_HOLDS must be one of 0, 1"):
        from_environment(tmp_path)


# -- one sweep at a time ------------------------------------------------------------------


def test_a_second_sweep_exits_cleanly_while_another_holds_the_lock(
    sandbox_app, runner, localstripe_url, held
):
    capture_at_stripe(localstripe_url, held.stripe_payment_intent_id)

    with sweep_lock_held_elsewhere(sandbox_app, "stripe-sweep-holds"):
        blocked = sweep(runner)
    after = sweep(runner)

    assert blocked.exit_code == 0, blocked.output
    assert blocked.stdout == "Another `flask stripe sweep-holds` is running: nothing done.\n"
    assert after.exit_code == 3, after.output
    assert reload(sandbox_app, held.id).state == OrderState.CAPTURED.value
    # The finished sweep let its lock go: another process can take it at once.
    with sweep_lock_held_elsewhere(sandbox_app, "stripe-sweep-holds"):
        pass


def test_a_sweep_lets_its_lock_go_before_it_ends(app):
    """Back-to-back sweeps (cron, then a person at the terminal): the first's advisory lock
    is released before it returns, not whenever the server notices its connection closed,
    so the second is never told another sweep is running."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL's advisory lock (SQLite's flock goes with the file handle)")
    advisory = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with app.app_context(), db.engine.connect() as look:
        for _ in range(20):
            with sweep_lock("stripe-sweep-holds") as held:
                assert held
            assert look.execute(advisory).scalar_one() == 0
            look.rollback()
