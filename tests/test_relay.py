"""`flask outbox relay` and emails: written once in the caller's transaction, delivered by
the relay to a real SMTP server (aiosmtpd on loopback), retried, never sent twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models import OutboxDelivery, OutboxMessage, TimelineEntry, utcnow
from dashboard.services import mail
from dashboard.services.relay import loop
from dashboard.services.relay.claims import Policy, claim
from dashboard.transactions import unit_of_work
from tests.support.database import count


def queue(app, n=1, *, recipient="ada@shop.example", order=None, prefix="test"):
    """n emails queued as a request would, committed; their ids."""
    ids = []
    with app.app_context(), unit_of_work():
        for i in range(n):
            message = mail.queue_email(
                recipient,
                f"Hello {i}",
                f"Body of email {i}\nwith a second line, and ünïcode.",
                kind="test",
                dedupe_key=f"{prefix}:{i}",
                order=order,
            )
            assert message is not None
            ids.append(message.id)
    return ids


def relay_once(app):
    result = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def rows(app):
    with app.app_context():
        found = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return found


def deliveries(app, message_id):
    with app.app_context():
        return [
            (d.channel, d.outcome, d.error)
            for d in db.session.scalars(
                select(OutboxDelivery)
                .where(OutboxDelivery.message_id == message_id)
                .order_by(OutboxDelivery.id)
            )
        ]


def test_an_email_is_queued_once_per_key_and_noted_on_the_orders_timeline(app, make_order):
    order = make_order()
    with app.app_context(), unit_of_work():
        attached = db.session.merge(order)
        first = mail.queue_email(
            "buyer@example.com", "Pay", "Link", kind="pay_link", dedupe_key="7", order=attached
        )
        again = mail.queue_email(
            "buyer@example.com", "Pay", "Link", kind="pay_link", dedupe_key="7", order=attached
        )
        assert first is not None and again is None
        first_id = first.id
    assert count(app, OutboxMessage) == 1
    with app.app_context():
        summaries = db.session.scalars(
            select(TimelineEntry.summary).where(TimelineEntry.order_id == order.id)
        ).all()
    assert f"Email #{first_id} (pay_link) to buyer@example.com queued" in summaries


@pytest.mark.parametrize("recipient", ["a@b.example\r\nBcc: x@evil.example", "no-at-sign"])
def test_a_header_injection_is_refused_before_anything_is_written(app, recipient):
    with app.app_context(), pytest.raises(mail.UnsendableEmail), unit_of_work():
        mail.queue_email(recipient, "Hi", "Body", kind="test", dedupe_key="x")
    assert count(app, OutboxMessage) == 0


def test_the_relay_delivers_over_smtp_with_a_message_id_of_the_outbox_row(app, mail_server):
    (message_id,) = queue(app)
    assert mail_server.received == []  # queued is not sent
    output = relay_once(app)
    assert "1 delivered" in output
    (got,) = mail_server.received
    assert got.recipients == ["ada@shop.example"]
    assert got.sender == "dashboard@shop.example"
    assert got.message["Subject"] == "Hello 0"
    assert got.message["From"] == "Merchant dashboard <dashboard@shop.example>"
    assert got.message_id.startswith(f"<outbox.{message_id}.")
    assert got.message_id.endswith("@shop.example>")
    assert "ünïcode" in got.message.get_payload(decode=True).decode()
    (row,) = rows(app)
    assert row.sent_at is not None and row.attempts == 1 and row.claimed_by is None
    assert deliveries(app, message_id) == [("smtp", "delivered", None)]
    assert "none due" in relay_once(app)
    assert len(mail_server.received) == 1


def test_smtp_down_then_up_delivers_every_message_exactly_once(app, mail_server):
    mail_server.stop()
    ids = queue(app, 5)
    assert "5 retry" in relay_once(app)
    for row in rows(app):
        assert row.sent_at is None and row.failed_at is None and row.attempts == 1
        assert "ConnectionRefusedError" in (row.last_error or "")
    assert [outcome for _, outcome, _ in deliveries(app, ids[0])] == ["retry"]

    mail_server.start()  # the same port: the server came back
    assert "5 delivered" in relay_once(app)
    relay_once(app)
    received = mail_server.received
    assert sorted(r.message["Subject"] for r in received) == [f"Hello {i}" for i in range(5)]
    assert len({r.message_id for r in received}) == 5
    assert all(row.sent_at is not None and row.attempts == 2 for row in rows(app))


def test_a_lost_answer_is_sent_again_with_the_same_message_id(app, mail_server):
    """The server took the email but its "250" never arrived: the relay cannot know, so it
    sends again; the copy carries the same Message-ID, which receivers drop duplicates by."""
    mail_server.handler.drop_answers = 1
    (message_id,) = queue(app)
    assert "1 retry" in relay_once(app)
    assert rows(app)[0].sent_at is None
    assert "1 delivered" in relay_once(app)
    first, second = mail_server.received
    assert first.message_id == second.message_id
    assert [outcome for _, outcome, _ in deliveries(app, message_id)] == ["retry", "delivered"]


def test_a_permanent_refusal_is_not_retried_and_shows_as_failed(app, mail_server):
    mail_server.handler.refuse.add("gone@shop.example")
    (refused,) = queue(app, recipient="gone@shop.example", prefix="gone")
    (fine,) = queue(app, prefix="fine")
    output = relay_once(app)
    assert "1 delivered" in output and "1 failed" in output
    relay_once(app)
    assert [r.recipients for r in mail_server.received] == [["ada@shop.example"]]
    (channel, outcome, error) = deliveries(app, refused)[0]
    assert (channel, outcome) == ("smtp", "failed") and "550" in error
    runner = app.test_cli_runner()
    failed = runner.invoke(args=["outbox", "emails", "--failed"]).output
    assert f"{refused}\ttest\tgone@shop.example\tFAILED" in failed and "550" in failed
    assert str(fine) not in failed.split("\t")[0]

    mail_server.handler.refuse.clear()  # the mailbox was made: put it back in the queue
    assert runner.invoke(args=["outbox", "retry", str(refused)]).exit_code == 0
    assert "1 delivered" in relay_once(app)
    assert runner.invoke(args=["outbox", "retry", "999999"]).exit_code == 1


def test_after_the_last_attempt_a_message_is_failed_and_each_attempt_recorded(app, mail_server):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    mail_server.stop()
    (message_id,) = queue(app)
    outputs = [relay_once(app) for _ in range(4)]
    assert ["retry" in o for o in outputs] == [True, True, False, False]
    assert "1 failed" in outputs[2] and "none due" in outputs[3]
    (row,) = rows(app)
    assert row.failed_at is not None and row.attempts == 3
    assert [o for _, o, _ in deliveries(app, message_id)] == ["retry", "retry", "failed"]
    listed = app.test_cli_runner().invoke(args=["outbox", "emails"]).output
    assert listed == ""  # waiting: none; it is under --failed


def test_retries_wait_for_their_backoff(app, mail_server):
    app.config.update(OUTBOX_RETRY_BASE=600, OUTBOX_RETRY_MAX=3600)
    mail_server.stop()
    queue(app)
    relay_once(app)
    (row,) = rows(app)
    wait = (row.next_attempt_at - utcnow()).total_seconds()
    assert 290 < wait <= 600  # 600 s with equal jitter: between half and all of it
    mail_server.start()
    assert "none due" in relay_once(app)
    assert mail_server.received == []


def test_a_relay_that_died_holding_a_message_gives_it_back_when_its_lease_ends(app, mail_server):
    (message_id,) = queue(app)
    with app.app_context():
        dead = Policy.from_config(app.config, "dead-relay")
        assert claim(OutboxMessage, dead, due_by=utcnow(), limit=10) == [message_id]
    assert "none due" in relay_once(app)  # still leased to the dead relay
    with app.app_context(), unit_of_work():
        db.session.execute(
            update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    assert "1 delivered" in relay_once(app)
    (row,) = rows(app)
    assert row.attempts == 2  # the dead relay's try counts towards the limit


def test_two_relays_at_once_never_send_a_message_twice(app, mail_server):
    """Two relay processes' worth: two threads, each with its own database connection,
    draining 60 emails together."""
    queue(app, 60)
    errors = []
    start = threading.Barrier(2)

    def relay(name):
        try:
            with app.app_context():
                policy = Policy.from_config(app.config, name)
                start.wait()
                for _ in range(20):
                    if loop.run_pass(app.config, policy).handled == 0:
                        break
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=relay, args=(f"relay-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    received = mail_server.received
    assert len(received) == 60
    assert len({r.message_id for r in received}) == 60
    with app.app_context():
        relays = set(db.session.scalars(select(OutboxDelivery.relay)))
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows(app))
    assert relays <= {"relay-0", "relay-1"}
