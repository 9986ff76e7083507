"""Disputes answered from the dashboard: the list by evidence deadline, a dispute's page,
documents uploaded to Stripe's Files API and evidence saved or submitted, with Stripe's
answers at the SDK's HTTP boundary (localstripe has no disputes or files)."""

from __future__ import annotations

import copy
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Dispute, Order, Role, TimelineEntry
from tests.support.stripe import (
    AMOUNT,
    dispute,
    multipart_parts,
    send_event,
    stripe_event,
)
from tests.support.web import csrf_token, post_form

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def disputed(app, live_app, stripe_http, make_order):
    """A captured $30.00 order the buyer's bank disputes (fraudulent, evidence due in 5
    days), reported by a signed webhook; the double knows the dispute."""
    order = make_order(
        state="captured",
        stripe_payment_intent_id="pi_test_hold",
        stripe_charge_id="ch_test_hold",
        amount_captured=AMOUNT,
    )
    due = int(time.time()) + 5 * 86400
    obj = dispute(status="needs_response", due_by=due)
    assert (
        send_event(app.test_client(), stripe_event("charge.dispute.created", obj)).status_code
        == 200
    )
    stripe_http.disputes[obj["id"]] = copy.deepcopy(obj)
    with app.app_context():
        found = db.session.scalars(select(Dispute)).one()
        return found.id, order.id


def stripe_calls(stripe_http, method, path):
    return stripe_http.calls_to(method, path)


def timeline_summaries(app, order_id):
    with app.app_context():
        return [
            e.summary
            for e in db.session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.order_id == order_id)
                .order_by(TimelineEntry.id)
            )
        ]


def upload(client, path, content, filename, field="receipt"):
    """A browser's multipart upload, its body built here as bytes (the test client would
    spool a large one to a temporary file it never closes)."""

    def part(name, value, filename=None):
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        return f"--b\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"

    body = (
        part("csrf_token", csrf_token(client).encode())
        + (part("field", field.encode()) if field else b"")
        + part("document", content, filename)
        + b"--b--\r\n"
    )
    return client.post(path, data=body, content_type="multipart/form-data; boundary=b")


def test_save_draft_sends_the_evidence_with_submit_false(app, signed_in, stripe_http, disputed):
    dispute_id, order_id = disputed
    staff = signed_in(Role.STAFF)
    page = staff.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    # A fraud dispute calls for the product, the talk with the buyer, receipts, shipping.
    called = page.split("What this dispute calls for")[1].split("More evidence")[0]
    assert called.index("What was sold") < called.index("Talking with the buyer")
    assert "Shipping and tracking" in called and "Refund policy" not in called
    answer = post_form(
        staff,
        f"/disputes/{dispute_id}/evidence",
        {
            "product_description": "Blue widget, 2 units",
            "shipping_tracking_number": "1Z999AA10123456784",
            "customer_name": "  ",
            "action": "draft",
        },
    )
    assert answer.status_code == 303
    (call,) = stripe_calls(stripe_http, "POST", "/v1/disputes/dp_test_1")
    assert call.form == {
        "evidence[product_description]": ["Blue widget, 2 units"],
        "evidence[shipping_tracking_number]": ["1Z999AA10123456784"],
        "submit": ["false"],
    }
    assert re.fullmatch(r"dispute-dp_test_1-draft-0-[0-9a-f]{24}", call.headers["Idempotency-Key"])
    page = staff.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "Draft saved at Stripe" in page
    assert re.search(r'id="has-evidence">Yes<', page)
    assert re.search(r'id="submission-count">0<', page)
    assert 'value="1Z999AA10123456784"' in page
    assert any(
        s.startswith("Dispute evidence saved as a draft at Stripe (2 items) by staff@")
        for s in timeline_summaries(app, order_id)
    )
    # The same text saved again is a new save (a new key), not a replay of the first.
    post_form(
        staff,
        f"/disputes/{dispute_id}/evidence",
        {
            "product_description": "Blue widget, 2 units",
            "shipping_tracking_number": "1Z999AA10123456784",
            "action": "draft",
        },
    )
    _first, second = stripe_calls(stripe_http, "POST", "/v1/disputes/dp_test_1")
    assert second.headers["Idempotency-Key"].startswith("dispute-dp_test_1-draft-1-")


def test_a_document_goes_to_stripes_files_api_as_multipart(app, signed_in, stripe_http, disputed):
    dispute_id, order_id = disputed
    staff = signed_in(Role.STAFF)
    answer = upload(staff, f"/disputes/{dispute_id}/documents", PDF, "Receipt #42.png")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    (call,) = stripe_calls(stripe_http, "POST", "/v1/files")
    assert call.url == "https://files.stripe.com/v1/files"
    assert call.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(call)
    assert set(parts) == {"purpose", "file"}
    assert parts["purpose"] == (None, b"dispute_evidence")
    # Named by what its content is (a PDF), not by the name it came with.
    assert parts["file"] == ("receipt.pdf", PDF)
    assert re.fullmatch(r"dispute-dp_test_1-file-[0-9a-f]{32}", call.headers["Idempotency-Key"])
    (file_id,) = stripe_http.files
    page = staff.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "Receipt #42.png" in page and file_id in page
    # The draft then carries the file's id under its field.
    post_form(staff, f"/disputes/{dispute_id}/evidence", {"action": "draft"})
    (saved,) = stripe_calls(stripe_http, "POST", "/v1/disputes/dp_test_1")
    assert saved.form == {"evidence[receipt]": [file_id], "submit": ["false"]}
    assert any(
        "uploaded to Stripe as receipt sent to the buyer" in s
        for s in timeline_summaries(app, order_id)
    )


@pytest.mark.parametrize(
    ("content", "name", "says"),
    [
        (b"MZ\x90\x00 a program", "invoice.pdf", "not a PDF, JPEG or PNG"),
        (b"<html><script>", "photo.jpg", "not a PDF, JPEG or PNG"),
        (b"", "empty.pdf", "The file is empty"),
        (b"%PDF-" + b"0" * (5 * 1024 * 1024 - 4), "big.pdf", "at most 5 MB"),
    ],
)
def test_a_document_stripe_would_refuse_is_refused_by_its_content(
    signed_in, stripe_http, disputed, content, name, says
):
    dispute_id, _ = disputed
    staff = signed_in(Role.STAFF)
    answer = upload(staff, f"/disputes/{dispute_id}/documents", content, name)
    assert answer.status_code == 422
    assert says in answer.get_data(as_text=True)
    assert stripe_http.calls_to("POST", "/v1/files") == []


def test_a_body_far_over_five_megabytes_is_refused_with_a_message(signed_in, stripe_http, disputed):
    """Refused by its length before it is read (the body is built here as bytes: the test
    client's own spooling would leave a temporary file open when the app reads nothing)."""
    dispute_id, _ = disputed
    staff = signed_in(Role.STAFF)
    big = b"%PDF-" + b"0" * (6 * 1024 * 1024)
    answer = upload(staff, f"/disputes/{dispute_id}/documents", big, "big.pdf")
    assert answer.status_code == 413
    assert "document may be at most 5 MB" in answer.get_data(as_text=True)
    assert stripe_http.calls_to("POST", "/v1/files") == []


def test_submit_asks_first_then_sends_once(app, signed_in, stripe_http, disputed):
    dispute_id, order_id = disputed
    staff = signed_in(Role.STAFF)
    typed = {"product_description": "Blue widget", "action": "submit"}
    confirm = post_form(staff, f"/disputes/{dispute_id}/evidence", typed)
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "It cannot be changed afterwards" in page
    assert stripe_http.calls_to("POST", "/v1/disputes/dp_test_1") == []  # nothing sent yet
    done = post_form(
        staff, f"/disputes/{dispute_id}/submit", {"product_description": "Blue widget"}
    )
    assert done.status_code == 303
    (call,) = stripe_http.calls_to("POST", "/v1/disputes/dp_test_1")
    assert call.form == {"evidence[product_description]": ["Blue widget"], "submit": ["true"]}
    assert call.headers["Idempotency-Key"].startswith("dispute-dp_test_1-submit-0-")
    page = staff.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert re.search(r'id="dispute-status">Under review<', page)
    assert re.search(r'id="submission-count">1<', page)
    assert "cannot be changed" in page and "Submit to the bank" not in page
    # A second submit (another tab, a replayed form) sends nothing.
    again = post_form(staff, f"/disputes/{dispute_id}/submit", {"product_description": "Other"})
    assert again.status_code == 422
    assert "cannot be changed" in again.get_data(as_text=True)
    assert len(stripe_http.calls_to("POST", "/v1/disputes/dp_test_1")) == 1
    assert any(
        s.startswith("Dispute evidence submitted to the bank")
        for s in timeline_summaries(app, order_id)
    )


def test_stripe_refusing_the_evidence_is_said_and_kept_on_the_timeline(
    app, signed_in, stripe_http, disputed
):
    dispute_id, order_id = disputed
    staff = signed_in(Role.STAFF)
    stripe_http.fail_next(
        "POST",
        "/v1/disputes/dp_test_1",
        400,
        {"type": "invalid_request_error", "message": "This dispute is already closed."},
    )
    answer = post_form(
        staff, f"/disputes/{dispute_id}/evidence", {"product_description": "x", "action": "draft"}
    )
    assert answer.status_code == 422
    assert "Stripe did not take the evidence" in answer.get_data(as_text=True)
    assert ">x</textarea>" in answer.get_data(as_text=True)  # what was typed is kept
    with app.app_context():
        stored = db.session.get(Dispute, dispute_id)
        assert (stored.has_evidence, stored.evidence, stored.evidence_saves) == (False, {}, 0)
    assert any(
        s.startswith("Stripe refused to save the dispute's evidence")
        for s in timeline_summaries(app, order_id)
    )


def test_support_reads_a_dispute_but_cannot_answer_it(signed_in, stripe_http, disputed):
    dispute_id, _ = disputed
    support = signed_in(Role.SUPPORT)
    page = support.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "Only staff and admins answer disputes" in page
    assert "Save draft" not in page and "Upload to Stripe" not in page
    answer = post_form(
        support, f"/disputes/{dispute_id}/evidence", {"product_description": "x", "action": "draft"}
    )
    assert answer.status_code == 403
    assert stripe_http.calls == []


def add_disputes(app, order_id, dues):
    with app.app_context():
        for n, due in enumerate(dues):
            db.session.add(
                Dispute(
                    order_id=order_id,
                    stripe_dispute_id=f"dp_list_{n}",
                    amount=100 + n,
                    currency="USD",
                    reason="fraudulent",
                    status="needs_response",
                    evidence_due_by=due,
                )
            )
        db.session.commit()


def test_the_list_is_by_evidence_deadline_and_pages_by_keyset(app, signed_in, make_order):
    order = make_order()
    now = datetime.now(UTC).replace(microsecond=0)
    dues = [
        now + timedelta(days=3),
        None,
        now + timedelta(days=1),
        now + timedelta(days=1),
        now + timedelta(hours=5),
    ]
    add_disputes(app, order.id, dues)
    app.config["ORDERS_PER_PAGE"] = 2
    support = signed_in(Role.SUPPORT)
    seen, url = [], "/disputes"
    while url:
        page = support.get(url).get_data(as_text=True)
        seen += [int(n) for n in re.findall(r'<tr id="dispute-(\d+)"', page)]
        found = re.search(r'href="([^"]+)" id="next-page"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    with app.app_context():
        ids = {d.stripe_dispute_id: d.id for d in db.session.scalars(select(Dispute))}
    assert seen == [
        ids["dp_list_4"],
        ids["dp_list_2"],
        ids["dp_list_3"],
        ids["dp_list_0"],
        ids["dp_list_1"],
    ]


@pytest.mark.parametrize("cursor", ["x", "12", "none.", "1.2.3", "99999999999999.1", "-5.3"])
def test_a_broken_page_cursor_is_a_clear_400(signed_in, cursor):
    answer = signed_in(Role.SUPPORT).get("/disputes", query_string={"after": cursor})
    assert answer.status_code == 400
    assert "This page link is broken" in answer.get_data(as_text=True)


def test_what_stripe_reports_of_the_evidence_is_shown(app, signed_in, disputed):
    """Evidence given in Stripe's own Dashboard: a signed charge.dispute.updated says so."""
    dispute_id, _ = disputed
    obj = dispute(status="under_review", due_by=int(time.time()) + 5 * 86400)
    obj["evidence_details"].update(has_evidence=True, submission_count=1, past_due=False)
    answer = send_event(app.test_client(), stripe_event("charge.dispute.updated", obj))
    assert answer.status_code == 200
    page = signed_in(Role.SUPPORT).get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert re.search(r'id="has-evidence">Yes<', page)
    assert re.search(r'id="submission-count">1<', page)
    assert re.search(r'id="dispute-status">Under review<', page)


def test_staff_can_type_evidence_and_support_cannot(signed_in, disputed):
    dispute_id, _ = disputed
    field = re.compile(r'<textarea[^>]*id="ev-product_description"[^>]*>')
    staff_page = signed_in(Role.STAFF).get(f"/disputes/{dispute_id}").get_data(as_text=True)
    support_page = signed_in(Role.SUPPORT).get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "readonly" not in field.search(staff_page).group(0)
    assert "readonly" in field.search(support_page).group(0)


def test_an_ordinary_form_is_held_to_form_max_bytes_but_a_disputes_evidence_is_not(
    app, signed_in, stripe_http, disputed
):
    """Only a dispute's documents and evidence (and Stripe's webhooks) take bodies up to
    5 MB; any other form past FORM_MAX_BYTES (256 KB) is refused unread, saying so."""
    dispute_id, _ = disputed
    staff = signed_in(Role.STAFF)
    big = "x" * (300 * 1024)
    with app.app_context():
        orders_before = db.session.scalar(select(func.count()).select_from(Order))
    refused = post_form(staff, "/orders/new", {"buyer_name": big, "buyer_email": "a@b.example"})
    assert refused.status_code == 413
    assert "a form may be at most 256 KB" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == orders_before
    taken = post_form(staff, f"/disputes/{dispute_id}/evidence", {"uncategorized_text": big})
    assert taken.status_code != 413  # read, and answered on its merits
    assert "Too large to take" not in taken.get_data(as_text=True)
