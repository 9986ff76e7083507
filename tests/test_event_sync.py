"""`flask stripe sync` and `flask stripe reprocess`: catching up with Stripe's event list.

Against localstripe (one server for the whole run, no webhook endpoint registered on it,
so every event it records reaches nobody: the endpoint is "down"). Its event list is
shared by every test, so each test first puts the watermark at the newest event already
there and reads only what it makes itself. localstripe lists events oldest first and has
no `ending_before`; Stripe's own order (newest first, paged with `ending_before`) is
tested at the SDK's HTTP boundary with a double, the one thing localstripe cannot serve.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dashboard.domain.orders import OrderState
from dashboard.extensions import db
from dashboard.models import Role, StripeEvent, SyncWatermark, TimelineEntry, utcnow
from dashboard.payments import errors
from dashboard.payments.event_list import EventCursor, read_ahead
from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.stripe_gateway import StripeGateway
from dashboard.services.inbox.sync import STREAM, EventSync
from tests.support.app import free_port
from tests.support.database import (
    outbox_types,
    reload,
    state_changes,
    stored_events,
    sweep_lock_held_elsewhere,
)
from tests.support.localstripe import SANDBOX_KEY, capture_at_stripe, localstripe
from tests.support.stripe import (
    TEST_KEY,
    FakeStripeHTTP,
    completed_session,
    send_event,
    stripe_event,
    stripe_example,
)
from tests.support.web import pay_with_test_card

# -- localstripe helpers --------------------------------------------------------------------


def newest_event(url: str) -> dict[str, Any] | None:
    """The last event localstripe has recorded (its list runs oldest first)."""
    events = localstripe(url, "/v1/events?limit=1000000")["data"]
    return events[-1] if events else None


def watermark_at_newest_event(app, url: str) -> None:
    """As if a sync had just run: only the events made from here on are new."""
    newest = newest_event(url)
    with app.app_context():
        if newest is None:
            mark = SyncWatermark(name=STREAM, created=datetime.now(UTC) - timedelta(minutes=1))
        else:
            created = datetime.fromtimestamp(newest["created"], UTC)
            mark = SyncWatermark(name=STREAM, created=created, event_id=newest["id"])
        db.session.add(mark)
        db.session.commit()


def watermark(app) -> tuple[str | None, datetime] | None:
    with app.app_context():
        mark = db.session.get(SyncWatermark, STREAM)
        return (mark.event_id, mark.created) if mark else None


def events_of(app, payment_intent_id: str) -> list[StripeEvent]:
    return [e for e in stored_events(app) if e.payment_intent_id == payment_intent_id]


@pytest.fixture
def captured_while_down(sandbox_app, localstripe_url, make_order):
    """A hold captured in Stripe's Dashboard while our endpoint was down: the
    payment_intent.succeeded event is recorded at Stripe and delivered to no one."""
    watermark_at_newest_event(sandbox_app, localstripe_url)
    order = make_order()
    pay_with_test_card(sandbox_app, order.id)
    payment_intent_id = reload(sandbox_app, order.id).stripe_payment_intent_id
    assert reload(sandbox_app, order.id).state == OrderState.AUTHORIZED.value
    capture_at_stripe(localstripe_url, payment_intent_id)
    assert reload(sandbox_app, order.id).state == OrderState.AUTHORIZED.value
    return order, payment_intent_id


# -- recovering missed events ---------------------------------------------------------------


def test_sync_recovers_events_sent_while_the_endpoint_was_down(
    sandbox_app, runner, captured_while_down
):
    order, payment_intent_id = captured_while_down

    result = runner.invoke(args=["stripe", "sync"])

    assert result.exit_code == 0, result.output
    captured = reload(sandbox_app, order.id)
    assert captured.state == OrderState.CAPTURED.value
    assert captured.amount_captured == order.total_amount
    (event,) = events_of(sandbox_app, payment_intent_id)
    # Read by the sync, never delivered: no delivery counted (a reading is not one).
    assert (event.type, event.source, event.status, event.delivery_count, event.sync_count) == (
        "payment_intent.succeeded",
        "sync",
        "applied",
        0,
        1,
    )
    assert state_changes(sandbox_app, order.id)[-1]["source"] == (
        "webhook payment_intent.succeeded; captured outside the dashboard"
    )
    assert outbox_types(sandbox_app, order.id).count("PAYMENT_SUCCEEDED") == 1
    assert "Read 1 event (1 page): 1 new, 0 received before" in result.stdout
    assert f"Watermark: {event.event_id}" in result.stdout
    assert "Reading Stripe events since" in result.stderr  # the progress bar, on stderr


def test_the_watermark_advances_and_a_second_sync_reads_nothing_new(
    sandbox_app, runner, captured_while_down
):
    _, payment_intent_id = captured_while_down
    assert runner.invoke(args=["stripe", "sync"]).exit_code == 0
    (event,) = events_of(sandbox_app, payment_intent_id)
    assert watermark(sandbox_app) == (event.event_id, event.created)

    again = runner.invoke(args=["stripe", "sync"])

    assert again.exit_code == 0, again.output
    assert "Read 0 events (0 pages)" in again.stdout
    assert watermark(sandbox_app) == (event.event_id, event.created)
    (event,) = events_of(sandbox_app, payment_intent_id)
    assert (event.delivery_count, event.sync_count) == (0, 1)


def test_replays_by_sync_and_by_webhook_are_counted_never_applied_twice(
    sandbox_app, runner, captured_while_down, signed_in
):
    order, payment_intent_id = captured_while_down
    assert runner.invoke(args=["stripe", "sync"]).exit_code == 0
    (first,) = events_of(sandbox_app, payment_intent_id)
    changes = state_changes(sandbox_app, order.id)

    replay = runner.invoke(args=["stripe", "sync", "--since", "2m"])
    (replayed,) = events_of(sandbox_app, payment_intent_id)
    # A sync's reading is no delivery: nothing says Stripe delivered it, or when.
    assert (replayed.delivery_count, replayed.last_received_at) == (0, first.last_received_at)
    support = signed_in(Role.SUPPORT, quick_hash=True)
    log = support.get("/events").get_data(as_text=True)
    assert "found by the sync" in log and "+2 sync" in log
    before_delivery = utcnow()
    redelivered = send_event(sandbox_app.test_client(), first.payload)

    assert replay.exit_code == 0, replay.output
    assert redelivered.status_code == 200
    (event,) = events_of(sandbox_app, payment_intent_id)
    # Read twice by the sync, delivered once by Stripe: counted apart, applied once.
    assert (event.delivery_count, event.sync_count, event.process_count, event.status) == (
        1,
        2,
        1,
        "applied",
    )
    assert event.source == "sync"  # the first to bring it
    # "Received" is now Stripe's delivery, its first and its last: not the sync's readings.
    assert event.first_received_at >= before_delivery
    assert event.last_received_at >= before_delivery
    page = support.get(f"/events/{event.id}").get_data(as_text=True)
    assert 'id="event-sync-count">2 times<' in page
    assert "not delivered by Stripe yet" not in page
    assert state_changes(sandbox_app, order.id) == changes
    assert outbox_types(sandbox_app, order.id).count("PAYMENT_SUCCEEDED") == 1
    assert reload(sandbox_app, order.id).amount_captured == order.total_amount
    assert watermark(sandbox_app) == (first.event_id, first.created)


def test_an_event_the_webhook_brought_first_is_only_counted_by_the_sync(
    sandbox_app, runner, localstripe_url, captured_while_down
):
    order, payment_intent_id = captured_while_down
    # The endpoint came back in time for this one: Stripe's retry delivered it.
    assert send_event(sandbox_app.test_client(), newest_event(localstripe_url)).status_code == 200

    result = runner.invoke(args=["stripe", "sync"])

    assert result.exit_code == 0, result.output
    assert "0 new, 1 received before" in result.stdout
    (event,) = events_of(sandbox_app, payment_intent_id)
    # The sync's reading is no second delivery, and leaves the delivery's time as it was.
    assert (event.source, event.delivery_count, event.sync_count, event.process_count) == (
        "webhook",
        1,
        1,
        1,
    )
    assert event.last_received_at == event.first_received_at
    assert reload(sandbox_app, order.id).state == OrderState.CAPTURED.value


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("31d", "'31d' is more than 30d: Stripe lists the events of 30 days only."),
        ("30d1s", "'30d1s' is more than 30d"),
        ("banana", "'banana' is not a duration: write a number and a unit"),
        ("10", "'10' is not a duration"),
        ("-1h", "'-1h' is not a duration"),
        ("0s", "'0s' is no time at all"),
    ],
)
def test_since_must_be_a_duration_within_stripes_30_days(app, since, message):
    result = app.test_cli_runner().invoke(args=["stripe", "sync", "--since", since])

    assert result.exit_code == 2
    assert "Invalid value for '--since'" in result.output
    assert message in result.output
    assert watermark(app) is None
    assert stored_events(app) == []


def test_a_sync_already_running_elsewhere_is_not_joined(sandbox_app, runner):
    with sweep_lock_held_elsewhere(sandbox_app, "stripe-sync"):
        result = runner.invoke(args=["stripe", "sync"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "Another `flask stripe sync` is running: nothing done.\n"
    assert watermark(sandbox_app) is None
    assert runner.invoke(args=["stripe", "sync", "--since", "1s"]).exit_code == 0  # released


# -- Stripe's own order: newest first, paged with ending_before ----------------------------


class StripeEventList(FakeStripeHTTP):
    """`GET /v1/events` as Stripe documents it: newest first; `created[...]` filters;
    `starting_after` pages towards older events, `ending_before` towards newer ones;
    `has_more` says whether more lie in the direction of paging."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        super().__init__()
        self.events = events  # oldest first
        self.fail_on: int | None = None  # answer this list request (1-based) with a 500
        self.fail_forward_on: int | None = None  # or this request with `ending_before`
        self.ignores_time = False  # a list that does not honour `created[...]`
        self.garbled: dict[str, Any] | None = None  # answer 200 with this instead of a list

    def _routes(self):
        return [(r"GET /v1/events", self._list_events), *super()._routes()]

    def listed(self) -> list[dict[str, str]]:
        return [
            {key: values[-1] for key, values in call.query.items()}
            for call in self.calls_to("GET", "/v1/events")
        ]

    def _list_events(self, call):
        if self.garbled is not None:
            return self._answer(self.garbled)
        query = {key: values[-1] for key, values in call.query.items()}
        forward = [q for q in self.listed() if "ending_before" in q]
        if self.fail_on == len(self.calls_to("GET", "/v1/events")) or (
            "ending_before" in query and self.fail_forward_on == len(forward)
        ):
            return self._answer({"error": {"type": "api_error", "message": "Try again."}}, 500)
        newest_first = list(reversed(self.events))
        for bound, keep in (
            ("gt", lambda c, v: c > v),
            ("gte", lambda c, v: c >= v),
            ("lt", lambda c, v: c < v),
            ("lte", lambda c, v: c <= v),
        ):
            if f"created[{bound}]" in query and not self.ignores_time:
                value = int(query[f"created[{bound}]"])
                newest_first = [e for e in newest_first if keep(e["created"], value)]
        ids = [e["id"] for e in newest_first]
        limit = int(query.get("limit", 10))
        if "starting_after" in query:
            rest = newest_first[ids.index(query["starting_after"]) + 1 :]
            page, has_more = rest[:limit], len(rest) > limit
        elif "ending_before" in query:
            newer = newest_first[: ids.index(query["ending_before"])]
            page, has_more = newer[-limit:], len(newer) > limit
        else:
            page, has_more = newest_first[:limit], len(newest_first) > limit
        return self._answer(
            {"object": "list", "url": "/v1/events", "data": page, "has_more": has_more}
        )


def canceled_payment(number: int, created: int) -> dict[str, Any]:
    intent = stripe_example("payment_intent")
    intent.update(id=f"pi_elsewhere_{number}", status="canceled", metadata={})
    return stripe_event(
        "payment_intent.canceled", intent, event_id=f"evt_{number:03d}", created=created
    )


@pytest.fixture
def stripe_events_list(app):
    """Seven events an hour apart, the newest an hour ago; none for an order of ours."""
    now = int(time.time())
    events = [canceled_payment(n, now - (8 - n) * 3600) for n in range(1, 8)]
    double = StripeEventList(events)
    app.config.update(STRIPE_SECRET_KEY=TEST_KEY, STRIPE_API_BASE="")
    app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=double, max_network_retries=0
    )
    yield double
    assert not double.unrouted


def inbox_ids(app) -> list[str]:
    return [e.event_id for e in stored_events(app)]


def test_a_first_sync_reads_stripes_newest_first_list_oldest_first(app, stripe_events_list):
    with app.app_context():
        sync = EventSync(page_size=3)
        plan = sync.plan()
        assert plan.note and "No sync has run yet" in plan.note
        result = sync.run(plan)

    assert inbox_ids(app) == [f"evt_{n:03d}" for n in range(1, 8)]
    assert (result.read, result.new, result.pages) == (7, 7, 3)
    assert {e.status for e in stored_events(app)} == {"unmatched"}
    assert watermark(app)[0] == "evt_007"
    # Nothing older than 30 days ago: the second of the oldest event is found by halving
    # the 30 days, a one-event page at a time; its events are read, then paged forward.
    listed = stripe_events_list.listed()
    since = int(listed[0]["created[lt]"])
    assert listed[0]["limit"] == "1"  # is anything older than 30 days listed? no
    assert listed[1] == {"created[gte]": str(since), "limit": "1"}  # the newest: evt_007
    halving, rest = listed[2:-3], listed[-3:]
    assert 1 <= len(halving) <= math.ceil(math.log2(31 * 86400))
    assert all(q["limit"] == "1" and "created[lt]" in q for q in halving)
    oldest = stripe_events_list.events[0]["created"]
    assert rest == [
        {"created[gte]": str(oldest), "created[lt]": str(oldest + 1), "limit": "3"},
        {"ending_before": "evt_001", "limit": "3"},
        {"ending_before": "evt_004", "limit": "3"},
    ]


def test_a_first_sync_finds_the_oldest_of_many_events_in_a_few_small_answers(app):
    """A month of events: the start is found in about 22 answers of one event, not by
    reading the month twice; events sharing the oldest second are all read, oldest first,
    even when they fill more than a page."""
    now = int(time.time())
    first = now - 29 * 86400
    events = [canceled_payment(n, first) for n in range(1, 6)]  # five in the oldest second
    events += [canceled_payment(n, first + (n - 5) * 2591) for n in range(6, 1006)]
    double = StripeEventList(events)
    app.config.update(STRIPE_SECRET_KEY=TEST_KEY, STRIPE_API_BASE="")
    app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=double, max_network_retries=0
    )
    with app.app_context():
        sync = EventSync(page_size=2)
        result = sync.run(sync.plan())

    assert inbox_ids(app) == [e["id"] for e in events]
    assert (result.read, result.new) == (1005, 1005)
    listed = double.listed()
    probes = [q for q in listed if q["limit"] == "1"]
    assert len(probes) <= 2 + math.ceil(math.log2(31 * 86400))
    in_the_oldest_second = [q for q in listed if q.get("created[lt]") == str(first + 1)]
    assert [q.get("starting_after") for q in in_the_oldest_second] == [None, "evt_004", "evt_002"]
    forward = [q for q in listed if "ending_before" in q]
    assert len(forward) == math.ceil(1004 / 2)  # every event after the oldest, read once
    assert not double.unrouted


def test_a_sync_from_the_watermark_reads_only_newer_events(app, stripe_events_list):
    with app.app_context():
        third = stripe_events_list.events[2]
        db.session.add(
            SyncWatermark(
                name=STREAM,
                created=datetime.fromtimestamp(third["created"], UTC),
                event_id=third["id"],
            )
        )
        db.session.commit()
        sync = EventSync(page_size=3)
        result = sync.run(sync.plan())

    assert inbox_ids(app) == ["evt_004", "evt_005", "evt_006", "evt_007"]
    assert result.pages == 2
    assert [q.get("ending_before") for q in stripe_events_list.listed()] == ["evt_003", "evt_006"]


def test_since_starts_after_the_newest_event_before_it(app, stripe_events_list):
    with app.app_context():
        sync = EventSync(page_size=3)
        result = sync.run(sync.plan(timedelta(hours=4, minutes=30)))

    assert inbox_ids(app) == ["evt_004", "evt_005", "evt_006", "evt_007"]
    assert result.new == 4
    first = stripe_events_list.listed()[0]
    assert first["limit"] == "1" and "created[lt]" in first
    assert stripe_events_list.listed()[1]["ending_before"] == "evt_003"


def test_an_interrupted_sync_resumes_after_the_last_page_it_read(app, stripe_events_list):
    stripe_events_list.fail_forward_on = 2  # the start is found, a page forward, then a 500
    with app.app_context():
        sync = EventSync(page_size=3)
        with pytest.raises(errors.OutcomeUnknown):
            sync.run(sync.plan())
    assert inbox_ids(app) == ["evt_001", "evt_002", "evt_003", "evt_004"]
    assert watermark(app)[0] == "evt_004"

    stripe_events_list.fail_forward_on = None
    with app.app_context():
        sync = EventSync(page_size=3)
        plan = sync.plan()
        assert plan.after == EventCursor("evt_004", watermark(app)[1])
        result = sync.run(plan)

    assert inbox_ids(app) == [f"evt_{n:03d}" for n in range(1, 8)]
    assert (result.new, result.already) == (3, 0)
    assert {(e.delivery_count, e.sync_count) for e in stored_events(app)} == {(0, 1)}


def test_the_next_page_is_asked_of_stripe_while_a_page_is_applied(app, stripe_events_list):
    """Stripe takes a while to answer a list; the sync does not wait for each answer in
    turn. (Each wait below is for something that happens at once when all is well.)"""
    asked = {n: threading.Event() for n in (1, 2)}  # by forward request: pages 2 and 3
    original = stripe_events_list._list_events

    def list_events(call):
        forward = [q for q in stripe_events_list.listed() if "ending_before" in q]
        if len(forward) in asked:
            asked[len(forward)].set()
        return original(call)

    stripe_events_list._list_events = list_events
    seen: list[tuple[int, bool]] = []

    def on_page(_created: datetime) -> None:
        # Page 1 is the oldest event; pages 2 and 3 are asked for with `ending_before`.
        number = len(seen) + 1
        following = asked.get(number)
        seen.append((number, following.wait(10) if following else True))

    with app.app_context():
        sync = EventSync(page_size=3)
        result = sync.run(sync.plan(), on_page=on_page)

    # Applied and committed page by page, in order, as before; each next page had been
    # asked for before the sync was done with the page before it (`on_page` runs after a
    # page's commit; without reading ahead, the wait for page 2 runs out).
    assert seen == [(1, True), (2, True), (3, True)]
    assert result.pages == 3
    assert inbox_ids(app) == [f"evt_{n:03d}" for n in range(1, 8)]
    assert watermark(app)[0] == "evt_007"


def test_read_ahead_hands_pages_over_in_order_and_a_failure_where_it_happened():
    read: list[int] = []

    def pages():
        for number in (1, 2, 3):
            read.append(number)
            if number == 3:
                raise errors.OutcomeUnknown("Stripe did not answer.")
            yield [number]

    handed = []
    with pytest.raises(errors.OutcomeUnknown):
        for page in read_ahead(pages()):
            handed.append(page)
    assert handed == [[1], [2]]

    read.clear()
    ahead = read_ahead(pages())
    assert next(ahead) == [1]
    ahead.close()  # the caller stops: at most the one page after it was read
    assert read == [1, 2]


def test_when_stripe_cannot_be_read_the_sync_says_so_and_keeps_its_place(app, stripe_events_list):
    stripe_events_list.fail_on = 1

    result = app.test_cli_runner().invoke(args=["stripe", "sync"])

    assert result.exit_code == 1
    assert "Stripe's event list could not be read" in result.output
    assert "the next sync resumes from there" in result.output
    assert watermark(app) is None


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"garbled": {"object": "customer", "id": "cus_not_a_list"}}, "not a list of events"),
        (
            {"garbled": {"object": "list", "data": ["evt_1", 7], "has_more": False}},
            "not a list of events",
        ),
        # The search for the oldest event trusts the list's `created` filters (a list that
        # ignored them could keep it searching for ever).
        ({"ignores_time": True}, "an event outside the time asked for"),
    ],
    ids=["not a list", "not events", "ignores the time asked"],
)
def test_an_answer_that_is_not_an_event_list_stops_the_sync_where_it_was(
    app, stripe_events_list, fault, says
):
    for name, value in fault.items():
        setattr(stripe_events_list, name, value)

    result = app.test_cli_runner().invoke(args=["stripe", "sync"])

    assert result.exit_code == 1
    assert says in result.output
    assert watermark(app) is None
    assert inbox_ids(app) == []


def test_event_types_the_dashboard_does_not_act_on_are_skipped(app, stripe_events_list):
    stripe_events_list.events.append(
        stripe_event("product.created", {"id": "prod_1", "object": "product"}, event_id="evt_c")
    )

    result = app.test_cli_runner().invoke(args=["stripe", "sync"])

    assert result.exit_code == 0, result.output
    assert "Read 8 events (2 pages): 7 new, 0 received before, 1 skipped" in result.stdout
    assert "evt_c" not in inbox_ids(app)
    assert watermark(app)[0] == "evt_c"


def test_listed_events_not_shaped_like_events_are_named_and_not_stored(app, stripe_events_list):
    """A type that is not text (a list, a number), or a known type with no object, is not an
    event: named, counted, never stored; the rest of the page is received."""
    now = int(time.time())
    for event_id, kind in (("evt_list", ["payment_intent.succeeded"]), ("evt_number", 42)):
        event = canceled_payment(90, now - 60)
        event.update(id=event_id, type=kind)
        stripe_events_list.events.append(event)
    hollow = canceled_payment(91, now - 30)
    hollow.update(id="evt_hollow", data={})
    stripe_events_list.events.append(hollow)

    result = app.test_cli_runner().invoke(args=["stripe", "sync"])

    assert result.exit_code == 3, result.output
    assert "3 not shaped like Stripe events, not stored: evt_list, evt_number, evt_hollow" in (
        result.stdout
    )
    assert "Read 10 events (2 pages): 7 new" in result.stdout
    assert not {"evt_list", "evt_number", "evt_hollow"} & set(inbox_ids(app))


def test_events_that_fail_to_apply_are_kept_and_the_sync_says_so(
    app, stripe_events_list, make_order
):
    order = make_order()
    session = completed_session(
        order.id, id="cs_test_lost", payment_intent="pi_stripe_does_not_know", payment_status="paid"
    )
    failing = stripe_event("checkout.session.completed", session, event_id="evt_fails")
    stripe_events_list.events.append(failing)

    result = app.test_cli_runner().invoke(args=["stripe", "sync"])

    assert result.exit_code == 3, result.output
    assert "1 failed to apply, kept for `flask stripe reprocess`: evt_fails" in result.stdout
    (row,) = [e for e in stored_events(app) if e.event_id == "evt_fails"]
    assert (row.source, row.status) == ("sync", "failed")
    assert watermark(app)[0] == "evt_fails"  # kept in the inbox: the sync moves on


# -- flask stripe reprocess ----------------------------------------------------------------


def test_reprocess_retries_events_whose_processing_failed(
    sandbox_app, runner, localstripe_url, make_order
):
    order = make_order()
    pay_with_test_card(sandbox_app, order.id)
    payment_intent_id = reload(sandbox_app, order.id).stripe_payment_intent_id
    capture_at_stripe(localstripe_url, payment_intent_id)
    session = stripe_example("checkout_session")
    session.update(
        id="cs_test_reprocess",
        status="complete",
        payment_status="paid",
        payment_intent=payment_intent_id,
        client_reference_id=str(order.id),
        metadata={"order_id": str(order.id)},
    )
    event = stripe_event("checkout.session.completed", session)
    # Stripe is unreachable while the event is processed: its re-read of the payment fails.
    sandbox_app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=SANDBOX_KEY,
        api_base=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        compat=LocalstripeCompat(),
        max_network_retries=0,
    )
    assert send_event(sandbox_app.test_client(), event).status_code == 200  # stored
    (row,) = [e for e in stored_events(sandbox_app) if e.event_id == event["id"]]
    assert row.status == "failed"  # its applying failed after the answer; kept

    too_young = runner.invoke(args=["stripe", "reprocess"])
    still_down = runner.invoke(args=["stripe", "reprocess", "--older-than", "0s"])
    sandbox_app.extensions["stripe_gateway"] = None
    retried = runner.invoke(args=["stripe", "reprocess", "--older-than", "0s"])
    nothing_left = runner.invoke(args=["stripe", "reprocess", "--older-than", "0s"])

    assert (too_young.exit_code, too_young.stdout) == (0, "No failed or stale pending events.\n")
    assert still_down.exit_code == 3, still_down.output
    assert f"{event['id']} checkout.session.completed: failed (OutcomeUnknown" in still_down.stdout
    assert retried.exit_code == 0, retried.output
    assert f"{event['id']} checkout.session.completed: applied" in retried.stdout
    assert "Retried 1 of 1 events: 1 applied." in retried.stdout
    assert nothing_left.stdout == "No failed or stale pending events.\n"
    (row,) = [e for e in stored_events(sandbox_app) if e.event_id == event["id"]]
    assert (row.status, row.process_count, row.delivery_count) == ("applied", 3, 1)
    assert reload(sandbox_app, order.id).state == OrderState.CAPTURED.value


def test_reprocess_one_event_by_its_id(sandbox_app, runner, captured_while_down):
    order, payment_intent_id = captured_while_down
    assert runner.invoke(args=["stripe", "sync"]).exit_code == 0
    (event,) = events_of(sandbox_app, payment_intent_id)

    again = runner.invoke(args=["stripe", "reprocess", "--event", event.event_id])
    unknown = runner.invoke(args=["stripe", "reprocess", "--event", "evt_never_seen"])

    assert again.exit_code == 0, again.output
    assert f"{event.event_id} payment_intent.succeeded: already applied, nothing done" in (
        again.stdout
    )
    assert (unknown.exit_code, "No stored event evt_never_seen." in unknown.output) == (1, True)
    with sandbox_app.app_context():
        webhook_entries = db.session.scalars(
            select(TimelineEntry).where(
                TimelineEntry.order_id == order.id, TimelineEntry.stripe_event_id.is_not(None)
            )
        ).all()
        assert len(webhook_entries) == 1
