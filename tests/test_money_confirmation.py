"""Money never moves on one click: each capture, void and refund says exactly what it will
do and asks; a refused amount stays as typed with its error beside it; and the ledger in
the panel lists every movement, adding up to the panel's totals.

Against a real localstripe (the sandbox), through the app's routes, without JavaScript and
with htmx's requests alike.
"""

from __future__ import annotations

import re

from dashboard.models import Role
from tests.support.database import reload, requests_of
from tests.support.localstripe import stripe_pi
from tests.support.web import (
    HTMX,
    confirmation_in,
    move_money,
    pay_link,
    pay_with_test_card,
    post_form,
)


def field_of(page: str, field_id: str) -> str:
    match = re.search(rf'<input[^>]*id="{field_id}"[^>]*>', page)
    assert match, f"no input #{field_id} on the page"
    return match.group(0)


def test_a_refused_capture_amount_stays_as_typed_and_nothing_is_sent(
    sandbox_app, held, signed_in, localstripe_url
):
    staff = signed_in(Role.STAFF)
    for headers in ({}, HTMX):  # a full page without JavaScript, the panel with it
        answer = post_form(
            staff, f"/orders/{held.id}/capture", {"amount": "30.00"}, headers=headers
        )
        assert answer.status_code == 422
        page = answer.get_data(as_text=True)
        amount = field_of(page, "capture-amount")
        assert 'value="30.00"' in amount  # never put back to the full hold
        assert 'aria-invalid="true"' in amount
        assert 'aria-describedby="capture-amount-error"' in amount
        assert re.search(r'id="capture-amount-error">Capture between \$0\.01 and \$25\.00\.<', page)
        assert confirmation_in(page) is None
    assert requests_of(sandbox_app, held.id, "capture") == []
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "requires_capture"


def test_asking_to_capture_says_what_happens_and_sends_nothing_until_confirmed(
    sandbox_app, held, signed_in, localstripe_url
):
    staff = signed_in(Role.STAFF)
    asked = post_form(staff, f"/orders/{held.id}/capture", {"amount": "18.00"})
    assert asked.status_code == 200  # without JavaScript: a confirmation page
    page = asked.get_data(as_text=True)
    assert (
        "Capture $18.00 of the $25.00 hold. The other $7.00 is released to the buyer and "
        "cannot be captured later." in page
    )
    assert ">Capture $18.00<" in page and "Go back; nothing is sent" in page
    assert requests_of(sandbox_app, held.id, "capture") == []
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "requires_capture"

    action, fields = confirmation_in(page)
    assert action == f"/orders/{held.id}/capture/confirm"
    done = staff.post(action, data=fields)
    assert done.status_code == 303
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured) == ("captured", 1800)
    again = staff.post(action, data=fields)  # the confirmation sent twice: one capture
    assert again.status_code == 303
    assert len(requests_of(sandbox_app, held.id, "capture")) == 1


def test_with_htmx_the_confirmation_is_a_dialog_over_the_panel_as_typed(
    sandbox_app, held, signed_in
):
    staff = signed_in(Role.STAFF)
    asked = post_form(staff, f"/orders/{held.id}/capture", {"amount": "25"}, headers=HTMX)
    panel = asked.get_data(as_text=True)
    assert '<dialog id="confirm-dialog"' in panel and "data-open-modal" in panel
    assert "Capture the full $25.00 hold." in panel
    assert 'value="25"' in field_of(panel, "capture-amount")
    assert "hx-swap-oob" not in panel  # only the panel: nothing else has changed yet


def test_a_confirmation_of_an_order_that_changed_meanwhile_is_asked_again(
    sandbox_app, held, signed_in
):
    staff = signed_in(Role.STAFF)
    page = post_form(staff, f"/orders/{held.id}/capture", {"amount": "10.00"}).get_data(
        as_text=True
    )
    action, fields = confirmation_in(page)
    stale = staff.post(action, data={**fields, "basis": "9999"})  # the hold it was said of
    text = stale.get_data(as_text=True)
    assert "The order changed since you were asked" in text
    assert "Capture $10.00 of the $25.00 hold." in text
    assert requests_of(sandbox_app, held.id, "capture") == []


def test_a_forged_confirmation_is_checked_as_the_action_itself(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    page = post_form(staff, f"/orders/{held.id}/capture", {"amount": "10.00"}).get_data(
        as_text=True
    )
    action, fields = confirmation_in(page)
    for forged in ({"amount": "2501"}, {"amount": "-5"}, {"amount": "ten"}, {"basis": ""}):
        answer = staff.post(action, data={**fields, **forged}, headers=HTMX)
        assert answer.status_code in (409, 422)
    assert requests_of(sandbox_app, held.id, "capture") == []


def test_void_says_it_cannot_be_undone(sandbox_app, held, signed_in, localstripe_url):
    staff = signed_in(Role.STAFF)
    page = post_form(staff, f"/orders/{held.id}/void", {"reason": "duplicate"}).get_data(
        as_text=True
    )
    assert (
        "Void the $25.00 hold: nothing will be charged. This cannot be undone. Reason: "
        "Duplicate order." in page
    )
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "requires_capture"
    action, fields = confirmation_in(page)
    staff.post(action, data=fields)
    assert reload(sandbox_app, held.id).state == "voided"
    ledger = staff.get(f"/orders/{held.id}").get_data(as_text=True)
    row = re.search(r'<tr class="movement-void status-succeeded">(.*?)</tr>', ledger, re.S)
    assert row and "Hold voided: Duplicate order" in row.group(1)
    assert 'data-label="Amount">$25.00<' in row.group(1)


def test_refund_starts_empty_and_refund_all_is_its_own_choice(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    move_money(staff, f"/orders/{held.id}/capture", {"amount": "18.00"})
    page = staff.get(f"/orders/{held.id}").get_data(as_text=True)
    assert 'value=""' in field_of(page, "refund-amount")  # nothing typed for staff
    assert "Refund all ($18.00)…" in page

    empty = post_form(staff, f"/orders/{held.id}/refund", {"reason": "duplicate"}, headers=HTMX)
    assert empty.status_code == 422
    assert "Enter the amount to refund." in empty.get_data(as_text=True)

    asked = post_form(
        staff,
        f"/orders/{held.id}/refund",
        {"refund_all": "y", "reason": "requested_by_customer"},
    ).get_data(as_text=True)
    assert "Refund $18.00 to Visa •••• 4242. Reason: Requested by the customer." in asked
    assert requests_of(sandbox_app, held.id, "refund") == []


def test_the_ledger_lists_each_movement_and_adds_up_to_the_panel(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    move_money(staff, f"/orders/{held.id}/capture", {"amount": "18.00"})
    move_money(
        staff, f"/orders/{held.id}/refund", {"amount": "5.00", "reason": "requested_by_customer"}
    )
    page = staff.get(f"/orders/{held.id}").get_data(as_text=True)
    rows = re.findall(r'<tr class="movement-(\w+) status-(\w+)">(.*?)</tr>', page, re.S)
    kinds = [(kind, status) for kind, status, _ in rows]
    assert kinds == [
        ("capture", "succeeded"),
        ("release", "succeeded"),
        ("refund", "succeeded"),
    ]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for _, _, row in rows]
    assert [c[1] for c in cells] == ["$18.00", "$7.00", "$5.00"]
    assert all("staff@shop.example" in c[0] for c in cells)  # who asked, for each
    assert "Refund: Requested by the customer" in cells[2][0]
    assert re.search(r"re_\w+", cells[2][0])  # Stripe's refund id
    # The ledger adds up to the panel's own amounts.
    assert 'id="ledger-captured">$18.00<' in page and 'id="amount-captured">$18.00<' in page
    assert 'id="ledger-refunded">$5.00<' in page and 'id="amount-refunded">$5.00<' in page
    # The sandbox reports no fees, and says so; the net is its balance's.
    assert 'id="fees-total">Not reported by Stripe<' in page
    assert "The sandbox (localstripe) reports no fees" in page
    assert 'id="fees-net">$13.00 USD<' in page


def test_the_order_page_shows_the_card_and_an_earlier_declined_attempt(
    sandbox_app, make_order, signed_in
):
    order = make_order()
    declined = pay_with_test_card(sandbox_app, order.id, "decline").get_data(as_text=True)
    assert "declined" in declined.lower()
    assert "$25.00 is on hold on your card" in pay_with_test_card(sandbox_app, order.id).get_data(
        as_text=True
    )
    staff = signed_in(Role.SUPPORT)
    page = staff.get(f"/orders/{order.id}").get_data(as_text=True)
    details = page[page.index('id="payment-details"') :]
    assert "Visa •••• 4242" in details and "12/" in details
    failed = details[details.index('id="failed-attempts"') :]
    assert "Visa •••• 0341" in failed
    assert "Your card was declined" in failed and "card_declined" in failed


def test_a_failed_3d_secure_step_is_an_earlier_attempt(sandbox_app, make_order, signed_in):
    order = make_order()
    buyer = sandbox_app.test_client()
    link = pay_link(sandbox_app, order.id)
    post_form(buyer, f"{link}/sandbox-card", {"card": "3ds"})
    post_form(buyer, f"{link}/sandbox-authenticate", {"outcome": "fail"})
    page = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    failed = page[page.index('id="failed-attempts"') :]
    # localstripe forgets the payment method of a failed verification (Stripe names it in
    # the error, and its card is shown then): the attempt is listed all the same.
    assert "Card not reported" in failed
    assert "payment_intent_authentication_failure" in failed
