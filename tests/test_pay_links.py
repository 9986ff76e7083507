"""Buyer pay links: they show their own order, and nothing when tampered with or old."""

import time

import pytest

from dashboard.models import Role
from dashboard.services.pay_links import PayLinkExpired, PayLinkInvalid, PayLinks, pay_links


def link_for(app, order_id):
    with app.test_request_context():
        return f"/pay/{pay_links().token_for(order_id)}"


def test_order_page_shows_a_working_pay_link(app, signed_in, make_order):
    order = make_order(buyer_email="ada@example.com")
    page = signed_in(Role.STAFF).get(f"/orders/{order.id}").get_data(as_text=True)
    prefix = 'id="pay-link" type="text" readonly value="http://dashboard.test/pay/'
    assert prefix in page
    token = page.split(prefix, 1)[1].split('"', 1)[0]
    buyer_page = app.test_client().get(f"/pay/{token}")
    assert buyer_page.status_code == 200
    text = buyer_page.get_data(as_text=True)
    assert f"Order #{order.id}" in text
    assert "$25.00" in text
    assert "Sign out" not in text  # the buyer sees no dashboard chrome


def test_each_link_names_only_its_order(app, make_order):
    first = make_order(buyer_email="first@example.com")
    second = make_order(buyer_email="second@example.com")
    page = app.test_client().get(link_for(app, second.id)).get_data(as_text=True)
    assert f"Order #{second.id}" in page
    assert f"Order #{first.id}" not in page


@pytest.mark.parametrize(
    "mangle",
    [
        # A middle character: the last one of base64 carries padding bits, so changing it
        # can decode to the very same signature.
        lambda t: t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:],  # signature changed
        lambda t: t[:-5],  # truncated
        lambda t: "x" + t,  # payload changed
        lambda t: t.split(".")[0],  # signature dropped
        lambda t: "not-a-token",
    ],
)
def test_tampered_link_shows_no_order(app, make_order, mangle):
    order = make_order()
    token = link_for(app, order.id).removeprefix("/pay/")
    response = app.test_client().get(f"/pay/{mangle(token)}")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "This payment link is not valid" in text
    assert "Buyer Name" not in text and "$25.00" not in text


def test_link_signed_with_another_key_or_purpose_is_refused(app, make_order):
    order = make_order()
    foreign = PayLinks("some-other-secret", 3600).token_for(order.id)
    assert app.test_client().get(f"/pay/{foreign}").status_code == 404
    # A token the app signs for another purpose (the session cookie) is no pay link.
    from itsdangerous import URLSafeTimedSerializer

    other_purpose = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="cookie-session")
    forged = other_purpose.dumps({"order": order.id})
    assert app.test_client().get(f"/pay/{forged}").status_code == 404


def test_expired_link_says_so_and_shows_no_order(app, make_order, monkeypatch):
    order = make_order()
    path = link_for(app, order.id)
    later = time.time() + app.config["PAY_LINK_MAX_AGE"] + 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = app.test_client().get(path)
    assert response.status_code == 410
    text = response.get_data(as_text=True)
    assert "This payment link has expired" in text
    assert "Buyer Name" not in text


def test_link_for_a_deleted_order_is_not_valid(app):
    response = app.test_client().get(link_for(app, 424242))
    assert response.status_code == 404


def test_pay_links_round_trip_and_reject():
    links = PayLinks("k", max_age=60)
    assert links.order_id_from(links.token_for(7)) == 7
    with pytest.raises(PayLinkInvalid):
        links.order_id_from(PayLinks("k2", 60).token_for(7))
    with pytest.raises(PayLinkExpired):
        PayLinks("k", max_age=-1).order_id_from(links.token_for(7))
    bogus = PayLinks("k", 60)._serializer().dumps({"order": "7"})
    with pytest.raises(PayLinkInvalid):
        links.order_id_from(bogus)
