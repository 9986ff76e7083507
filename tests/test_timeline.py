"""The order page's timeline: its latest entries at once, earlier ones on demand, in order."""

from __future__ import annotations

import html
import re

import pytest

from dashboard.domain.stripe_mapping import MAPPING_VERSION
from dashboard.extensions import db
from dashboard.models import Order, Role, TimelineEntry, TimelineKind
from dashboard.services import timeline
from tests.support.web import HTMX, move_money

ENTRY = re.compile(r'<span class="headline">entry (\d+)</span>')
EARLIER = re.compile(r'hx-get="(/orders/\d+/timeline\?before=\d+)"')
EARLIER_NEWEST = re.compile(r'hx-get="(/orders/\d+/timeline\?before=\d+&amp;sort=newest-first)"')
BY_KIND = re.compile(r'<li class="entry kind-(\w+)" id="entry-\d+">(.*?)</li>', re.S)


@pytest.fixture
def long_order(app, make_order):
    order = make_order()
    with app.app_context():
        row = db.session.get(Order, order.id)
        for n in range(1, 251):
            timeline.append(row, TimelineKind.STATE_CHANGE, f"entry {n}")
        db.session.commit()
    return order


def numbers(html: str) -> list[int]:
    return [int(n) for n in ENTRY.findall(html)]


def test_the_page_shows_the_latest_entries_and_loads_earlier_ones_in_order(signed_in, long_order):
    client = signed_in(Role.SUPPORT)
    page = client.get(f"/orders/{long_order.id}").get_data(as_text=True)
    shown = numbers(page)
    assert shown == list(range(151, 251))  # the latest window, oldest first
    seen = shown
    link = EARLIER.search(page)
    while link:
        fragment = client.get(link.group(1), headers=HTMX)
        assert fragment.status_code == 200
        html = fragment.get_data(as_text=True)
        assert "<html" not in html  # a fragment swapped in place of the link
        seen = numbers(html) + seen
        link = EARLIER.search(html)
    assert seen == list(range(1, 251))  # every entry once, oldest first


def test_without_javascript_the_link_opens_a_page_of_earlier_entries(signed_in, long_order):
    client = signed_in(Role.SUPPORT)
    page = client.get(f"/orders/{long_order.id}").get_data(as_text=True)
    href = re.search(r'<a href="(/orders/\d+/timeline\?before=\d+)"', page)
    assert href
    earlier = client.get(href.group(1)).get_data(as_text=True)
    assert numbers(earlier) == list(range(51, 151))
    assert "Back to the order" in earlier


def test_a_short_timeline_has_no_earlier_link(signed_in, make_order):
    order = make_order()
    page = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Show earlier entries" not in page


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "9" * 30])
def test_a_bad_cursor_is_a_400(signed_in, long_order, cursor):
    response = signed_in(Role.SUPPORT).get(f"/orders/{long_order.id}/timeline?before={cursor}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "earlier timeline entries</h1>" in page  # the page itself, saying what is wrong
    assert 'id="list-problem">This page link is broken: its before cursor' in page
    assert f'href="/orders/{long_order.id}">Back to the order' in page


def test_the_timeline_of_no_order_is_a_404(signed_in):
    assert signed_in(Role.SUPPORT).get("/orders/424242/timeline").status_code == 404


def test_an_outbox_entry_shows_its_event_and_an_unknown_kind_only_its_summary(
    app, signed_in, make_order
):
    order = make_order()
    with app.app_context():
        row = db.session.get(Order, order.id)
        timeline.append(
            row,
            TimelineKind.OUTBOX,
            "Outbox event PAYMENT_SUCCEEDED #7 written",
            data={"type": "PAYMENT_SUCCEEDED", "outbox_event_id": 7},
        )
        # A kind this dashboard does not know yet, e.g. written by a newer release.
        db.session.add(
            TimelineEntry(order_id=order.id, kind="refund_note", summary="A note", data={"a": 1})
        )
        db.session.commit()
    page = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    entries = dict(BY_KIND.findall(page))
    assert "<dt>Outbox event</dt><dd>PAYMENT_SUCCEEDED</dd>" in entries["outbox"]
    assert "<dt>Number</dt><dd>7</dd>" in entries["outbox"]
    unknown = entries["refund_note"]
    assert '<span class="headline">A note</span>' in unknown
    assert "<dl" not in unknown


def test_every_kind_of_entry_shows_its_facts(app, signed_in, make_order):
    order = make_order()
    data = {"action": "capture", "type": "PAYMENT_SUCCEEDED", "source": "sweep"}
    with app.app_context():
        row = db.session.get(Order, order.id)
        for kind in TimelineKind:
            timeline.append(row, kind, f"a {kind.value} entry", data=data)
        db.session.commit()
    page = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    entries = dict(BY_KIND.findall(page))
    for kind in TimelineKind:
        assert re.search(r'<dl class="facts">\s*<dt>', entries[kind.value]), kind


# -- one line per entry, newest or oldest first ---------------------------------------------


def lines_of(html: str) -> list[tuple[str, str]]:
    """(kind, the line's headline as text) of each entry, in page order; each entry is one
    closed <details> whose summary is its line."""
    found = re.findall(
        r'<li class="entry kind-(\w+)" id="entry-\d+">\s*<details>\s*<summary>(.*?)</summary>',
        html,
        re.S,
    )
    return [(kind, " ".join(re.sub(r"<[^>]+>", " ", line).split())) for kind, line in found]


def test_each_entry_is_one_plain_line_that_opens_to_stripes_facts(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    assert move_money(staff, f"/orders/{held.id}/capture", {"amount": "18.00"}).status_code == 303
    refund = {"amount": "5.00", "reason": "requested_by_customer"}
    assert move_money(staff, f"/orders/{held.id}/refund", refund).status_code == 303
    page = signed_in(Role.SUPPORT).get(f"/orders/{held.id}").get_data(as_text=True)

    entries = dict(BY_KIND.findall(page))
    lines = lines_of(page)
    assert len(lines) == page.count('<li class="entry ') == len(re.findall(r"<details>", page))
    assert "<details open" not in page  # every entry starts closed: one line each
    headlines = [headline for _, headline in lines]
    deadline = held.capture_before.strftime("%Y-%m-%d %H:%M")
    assert any(
        "Card authorized for $25.00, hold until" in h and deadline in h for h in headlines
    ), headlines
    for expected in (
        "Capture of $18.00 requested by staff@shop.example",
        "Stripe confirmed the capture of $18.00",
        "Captured $18.00; the other $7.00 went back to the buyer",
        "Refund of $5.00 requested by staff@shop.example",
        "Stripe confirmed the refund of $5.00",
        "$5.00 of $18.00 refunded to the buyer",
        "Other systems will be told the payment was captured",
    ):
        assert any(h.endswith(expected) for h in headlines), (expected, headlines)
    # Stripe's names, ids and the mapping version are in the details, not the lines.
    for h in headlines:
        assert "payment intent" not in h and "pi_" not in h and "order-" not in h, h
        assert MAPPING_VERSION not in h, h
    assert "<dt>Mapping version</dt>" in entries["state_change"]
    assert "payment intent succeeded" in page  # the stored summary, under the line
    assert f"order-{held.id}-refund-500-1" in page  # the idempotency key
    assert "<dt>Idempotency key</dt>" in entries["staff_action"]


def test_newest_first_reads_the_other_way_and_loads_earlier_entries_after(signed_in, long_order):
    client = signed_in(Role.SUPPORT)
    page = client.get(f"/orders/{long_order.id}?sort=newest-first").get_data(as_text=True)
    assert numbers(page) == list(range(250, 150, -1))  # the latest window, newest first
    assert (
        f'<a href="/orders/{long_order.id}?sort=newest-first#timeline" aria-current="true">' in page
    )
    assert page.index("Show earlier entries") > page.index("entry 151<")  # after the lines
    seen = numbers(page)
    link = EARLIER_NEWEST.search(page)
    while link:
        fragment = client.get(html.unescape(link.group(1)), headers=HTMX)
        assert fragment.status_code == 200
        text = fragment.get_data(as_text=True)
        seen += numbers(text)
        link = EARLIER_NEWEST.search(text)
    assert seen == list(range(250, 0, -1))  # every entry once, newest first

    # Without JavaScript, the link opens a page of them, newest first, and leads back.
    href = re.search(r'<a href="(/orders/\d+/timeline\?before=\d+&amp;sort=newest-first)"', page)
    earlier = client.get(html.unescape(href.group(1))).get_data(as_text=True)
    assert numbers(earlier) == list(range(150, 50, -1))
    assert f'href="/orders/{long_order.id}?sort=newest-first">Back to the order' in earlier


def test_oldest_first_is_the_default_and_says_so(signed_in, long_order):
    page = signed_in(Role.SUPPORT).get(f"/orders/{long_order.id}").get_data(as_text=True)
    assert f'<a href="/orders/{long_order.id}#timeline" aria-current="true">Oldest first' in page
    assert f'<a href="/orders/{long_order.id}?sort=newest-first#timeline">Newest first' in page
    assert page.index("Show earlier entries") < page.index("entry 151<")  # before the lines


@pytest.mark.parametrize("sort", ["newest", "NEWEST-FIRST", "<script>", "x" * 500, "%00"])
def test_a_sort_the_timeline_does_not_take_is_the_page_with_a_message(signed_in, long_order, sort):
    client = signed_in(Role.SUPPORT)
    response = client.get(f"/orders/{long_order.id}?sort={sort}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"<h1>Order {long_order.number}" in page  # the order page itself
    problem = re.search(r'id="list-problem">([^<]*)<', page).group(1)
    assert problem.startswith("The timeline reads oldest-first or newest-first, not ")
    assert "<script>" not in page.split('id="list-problem"', 1)[1]  # escaped
    assert numbers(page) == list(range(151, 251))  # and the timeline, oldest first

    earlier = client.get(f"/orders/{long_order.id}/timeline?before=151&sort={sort}")
    assert earlier.status_code == 400
    assert 'id="list-problem">The timeline reads oldest-first' in earlier.get_data(as_text=True)
    swapped = client.get(f"/orders/{long_order.id}/timeline?before=151&sort={sort}", headers=HTMX)
    assert swapped.status_code == 200  # htmx swaps no 4xx answer in
    assert 'id="list-problem">The timeline reads' in swapped.get_data(as_text=True)


def test_a_staff_action_redraws_the_timeline_the_way_round_the_page_shows_it(
    sandbox_app, held, signed_in
):
    staff = signed_in(Role.STAFF)
    page_url = f"http://localhost/orders/{held.id}?sort=newest-first"
    fragment = move_money(
        staff,
        f"/orders/{held.id}/capture",
        {"amount": "25.00"},
        headers={**HTMX, "HX-Current-URL": page_url},
    ).get_data(as_text=True)
    headlines = [headline for _, headline in lines_of(fragment)]
    assert headlines[-1].endswith("Order created for $25.00 by the system")  # oldest, last
    assert 'aria-current="true">Newest first' in fragment
    oldest = move_money(
        staff, f"/orders/{held.id}/void", {"reason": "duplicate"}, headers=HTMX
    ).get_data(as_text=True)
    assert next(h for _, h in lines_of(oldest)).endswith("Order created for $25.00 by the system")
