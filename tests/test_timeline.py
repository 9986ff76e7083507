"""The order page's timeline: its latest entries at once, earlier ones on demand, in order."""

from __future__ import annotations

import re

import pytest

from dashboard.extensions import db
from dashboard.models import Order, Role, TimelineEntry, TimelineKind
from dashboard.services import timeline
from tests.support.web import HTMX

ENTRY = re.compile(r'<span class="summary">entry (\d+)</span>')
EARLIER = re.compile(r'hx-get="(/orders/\d+/timeline\?before=\d+)"')
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
    assert '<span class="summary">A note</span>' in unknown
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
