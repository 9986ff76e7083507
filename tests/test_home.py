"""Home: the figures per currency (never summed across currencies) for today, 7 and 30 days
in the viewer's time zone, the rollups behind them kept in the transaction of each change
(equal to a recomputation from the ledger and the attempts after a mixed history), the
lists each figure links to, and the charts' tables."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dashboard.domain.overview import bucket_start
from dashboard.extensions import db
from dashboard.models import (
    DeclineBucket,
    Dispute,
    MoneyMovement,
    Order,
    OverviewBucket,
    PaymentAttempt,
    Role,
    StripeEvent,
    User,
    utcnow,
)
from dashboard.payments.charges import BalanceFacts, ChargeFacts, RefundDetails
from dashboard.services.overview import movements, rollups
from dashboard.services.overview.home import home_figures
from dashboard.services.payments import records
from tests.support.stripe import hold_event, send_event


def _attempt(order: Order, key: str, status: str, **facts: object) -> None:
    records.keep_attempt(
        order, ChargeFacts(id=key, status=status, currency=order.currency.lower(), **facts)
    )


def _captured(order: Order, authorized: int, captured: int, state: str) -> None:
    order.stripe_charge_id = f"ch_{order.id}"
    order.stripe_payment_intent_id = f"pi_{order.id}"
    order.amount_authorized = authorized
    order.amount_captured = captured
    order.state = state
    records.note_movements(order)


def _refund(
    order: Order, refund_id: str, amount: int, status: str, balance: BalanceFacts | None = None
) -> MoneyMovement:
    order.amount_refunded = amount if status in ("pending", "succeeded") else 0
    return records.keep_refund(
        order,
        RefundDetails(
            id=refund_id,
            amount=amount,
            currency=order.currency.lower(),
            status=status,
            reason=None,
            created=None,
            failure_reason=None,
            idempotency_key=None,
            balance_transaction_id=balance.id if balance else None,
            balance=balance,
        ),
    )


def _balance(order: Order, bt: str, amount: int, currency: str, fee: int | None) -> None:
    net = amount - (fee or 0)
    records.keep_balance(
        order, BalanceFacts(id=bt, amount=amount, currency=currency, net=net, fee=fee)
    )


def mixed_history(app, make_order) -> dict[str, int]:
    """Captures (one partial, one in two parts), refunds (one failing after it was
    accepted), a void, declines and a pending attempt, in two currencies, each step
    committed as the services commit it. Returns the orders' ids by name."""
    usd = make_order(currency="USD")
    eur = make_order(currency="EUR")
    voided = make_order(currency="USD")
    multi = make_order(currency="USD")
    declined = make_order(currency="USD")
    with app.app_context():
        a, e, v, m, d = (db.session.get(Order, o.id) for o in (usd, eur, voided, multi, declined))
        _attempt(a, f"ch_fail_{a.id}", "failed", decline_code="insufficient_funds")
        _attempt(a, f"ch_{a.id}", "succeeded")
        db.session.commit()
        _captured(a, 2500, 1800, "captured")  # 700 released
        db.session.commit()
        _balance(a, "txn_a", 1800, "USD", 82)
        db.session.commit()
        _refund(a, "re_a", 500, "pending")
        db.session.commit()
        _refund(a, "re_a", 500, "succeeded")
        db.session.commit()

        _attempt(e, f"ch_{e.id}", "succeeded")
        _captured(e, 3000, 3000, "captured")
        _balance(e, "txn_e", 3300, "USD", 126)  # a EUR sale settled in USD
        db.session.commit()
        _refund(e, "re_e", 1000, "succeeded")
        db.session.commit()
        _refund(e, "re_e", 1000, "failed")  # failed after it was accepted: gave nothing back
        e.amount_refunded = 0
        db.session.commit()

        _attempt(v, f"ch_{v.id}", "succeeded")
        v.stripe_payment_intent_id = f"pi_{v.id}"
        v.amount_authorized = 4000
        v.state = "voided"
        records.note_movements(v)
        db.session.commit()

        _attempt(m, f"ch_{m.id}", "succeeded")
        _captured(m, 2000, 1000, "partly_captured")
        db.session.commit()
        _captured(m, 2000, 1500, "captured")
        db.session.commit()

        _attempt(d, f"ch_fail_{d.id}", "failed", failure_code="card_declined")
        _attempt(d, f"ch_fail2_{d.id}", "failed", decline_code="insufficient_funds")
        _attempt(d, f"ch_pending_{d.id}", "pending")
        db.session.commit()
        # A savepoint rolled back takes its rollup notes with it.
        with pytest.raises(RuntimeError), db.session.begin_nested():
            _attempt(d, f"ch_rolled_back_{d.id}", "succeeded")
            db.session.flush()
            raise RuntimeError("rolled back")
        db.session.commit()
        # A transaction rolled back adds nothing either.
        _attempt(d, f"ch_never_{d.id}", "succeeded")
        db.session.flush()
        db.session.rollback()
    return {
        "usd": usd.id,
        "eur": eur.id,
        "voided": voided.id,
        "multi": multi.id,
        "declined": declined.id,
    }


def stored_rollups() -> tuple[dict, dict]:
    figures = {
        (row.bucket_start, row.currency): {
            name: getattr(row, name) for name in rollups.rules.FIGURES if getattr(row, name)
        }
        for row in db.session.scalars(select(OverviewBucket))
    }
    declines = {
        (row.bucket_start, row.currency, row.reason): row.count
        for row in db.session.scalars(select(DeclineBucket))
        if row.count
    }
    return {key: value for key, value in figures.items() if value}, declines


def recomputed() -> tuple[dict, dict]:
    """The rollups worked out again from the ledger and the attempts, written out plainly."""
    figures: dict = defaultdict(lambda: defaultdict(int))
    for row in db.session.scalars(select(MoneyMovement)):
        at = bucket_start(row.occurred_at)
        counted = row.kind == "capture" or (
            row.kind == "refund" and row.status in ("pending", "succeeded")
        )
        if not counted:
            continue
        amount, count = (
            ("captured", "captures") if row.kind == "capture" else ("refunded", "refunds")
        )
        figures[(at, row.currency)][amount] += row.amount
        figures[(at, row.currency)][count] += 1
        if row.balance:
            settled = (at, row.balance["currency"])
            figures[settled]["net"] += row.balance["net"]
            if row.balance["fee"] is None:
                figures[settled]["fees_unreported"] += 1
            else:
                figures[settled]["fee"] += row.balance["fee"]
    declines: dict = defaultdict(int)
    for row in db.session.scalars(select(PaymentAttempt)):
        at = bucket_start(row.first_seen_at)
        currency = row.details["currency"].upper()
        if row.status in ("succeeded", "failed"):
            figures[(at, currency)]["attempts"] += 1
        if row.status == "succeeded":
            figures[(at, currency)]["authorized"] += 1
        if row.status == "failed":
            reason = row.details.get("decline_code") or row.details.get("failure_code")
            declines[(at, currency, reason)] += 1
    return {key: dict(value) for key, value in figures.items()}, dict(declines)


def test_rollups_equal_a_recomputation_after_a_mixed_history(app, make_order):
    mixed_history(app, make_order)
    with app.app_context():
        stored = stored_rollups()
        assert stored == recomputed()
        # And the rebuild command's recomputation finds the same.
        rollups.rebuild()
        db.session.commit()
        assert stored_rollups() == stored


def test_figures_per_currency_are_never_summed(app, make_order):
    mixed_history(app, make_order)
    with app.app_context():
        figures = home_figures(UTC, timedelta(hours=48))
    by_currency = {c.currency: c for c in figures.currencies}
    assert set(by_currency) == {"USD", "EUR"}
    usd, eur = by_currency["USD"].spans["today"], by_currency["EUR"].spans["today"]
    # USD: 1,800 captured (of a 2,500 hold), then 1,000 and 500 of a multicapture.
    assert (usd["captured"], usd["captures"]) == (3300, 3)
    assert (usd["refunded"], usd["refunds"]) == (500, 1)
    # Fees and net settled in USD: the USD sale's and the EUR sale's, each in USD.
    assert (usd["fee"], usd["net"]) == (82 + 126, (1800 - 82) + (3300 - 126))
    # USD attempts: 1 failed + 1 succeeded, 2 succeeded (void, multi), 2 failed; pending not.
    assert (usd["attempts"], usd["authorized"]) == (6, 3)
    assert (eur["captured"], eur["refunded"], eur["fee"], eur["net"]) == (3000, 0, 0, 0)
    assert (eur["attempts"], eur["authorized"]) == (1, 1)
    assert by_currency["USD"].declines["today"] == [
        ("insufficient_funds", 2),
        ("card_declined", 1),
    ]
    assert by_currency["USD"].rate("today") == pytest.approx(50.0)


def _move(app, when: datetime) -> None:
    """Every movement and attempt to `when` (committed: the rollups follow)."""
    with app.app_context():
        for row in db.session.scalars(select(MoneyMovement)):
            row.occurred_at = when
        for attempt in db.session.scalars(select(PaymentAttempt)):
            attempt.first_seen_at = when
        db.session.commit()


def test_today_and_the_spans_are_the_viewers_days(app, make_order):
    """A capture at 00:10 in Kolkata (+05:30) is today there, and yesterday in UTC; 8 days
    ago it is in 30 days only."""
    mixed_history(app, make_order)
    kolkata = ZoneInfo("Asia/Kolkata")
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 17:30 in Kolkata
    early = datetime(2026, 12, 7, 0, 10, tzinfo=kolkata)  # 2026-12-06 18:40 UTC
    _move(app, early)
    with app.app_context():
        india = {c.currency: c for c in home_figures(kolkata, timedelta(hours=48), now).currencies}
        utc = {c.currency: c for c in home_figures(UTC, timedelta(hours=48), now).currencies}
    assert india["USD"].spans["today"]["captured"] == 3300
    assert utc["USD"].spans["today"]["captured"] == 0
    assert utc["USD"].spans["7d"]["captured"] == 3300
    _move(app, now - timedelta(days=8))
    with app.app_context():
        usd = {c.currency: c for c in home_figures(kolkata, timedelta(hours=48), now).currencies}[
            "USD"
        ]
    assert (usd.spans["today"]["captured"], usd.spans["7d"]["captured"]) == (0, 0)
    assert usd.spans["30d"]["captured"] == 3300
    _move(app, now - timedelta(days=31))
    with app.app_context():
        assert home_figures(kolkata, timedelta(hours=48), now).currencies == []


def _cell(html: str, currency: str, figure: str, span: str) -> str:
    section = html.split(f'id="currency-{currency.lower()}"', 1)[1].split("</section>", 1)[0]
    row = section.split(f'class="figure-{figure}"', 1)[1].split("</tr>", 1)[0]
    return row.split(f'data-span="{span}"', 1)[1].split("</td>", 1)[0]


def test_each_money_figure_links_to_the_rows_it_counted(app, make_order, signed_in):
    ids = mixed_history(app, make_order)
    client = signed_in(Role.SUPPORT, quick_hash=True)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.role == "support"))
        user.time_zone = "Asia/Kolkata"
        db.session.commit()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for currency, figure, shown, orders in (
        ("USD", "captured", "$33.00", {ids["usd"], ids["multi"]}),
        ("USD", "refunded", "$5.00", {ids["usd"]}),
        ("EUR", "captured", "€30.00", {ids["eur"]}),
        ("EUR", "refunded", "€0.00", set()),  # the refund that failed gave nothing back
    ):
        cell = _cell(html, currency, figure, "7d")
        assert shown in unescape(cell)
        link = unescape(re.search(r'href="([^"]+)"', cell).group(1))
        listed = client.get(link)
        assert listed.status_code == 200
        body = listed.get_data(as_text=True)
        assert shown in unescape(re.search(r'id="movement-total">([^<]+)<', body).group(1))
        listed_orders = {int(n) for n in re.findall(r'href="/orders/(\d+)"', body)}
        assert listed_orders == orders, (figure, currency)
    # The Kolkata user's days: the link names their today.
    today = datetime.now(ZoneInfo("Asia/Kolkata")).date().isoformat()
    assert f"to={today}" in unescape(_cell(html, "USD", "captured", "today"))


def test_the_rate_and_each_decline_reason_link_to_the_attempts_counted(app, make_order, signed_in):
    """USD in the mixed history: 3 of 6 decided attempts authorized (a pending one not
    counted), declined twice for insufficient_funds and once for card_declined. The rate's
    link lists those 6 attempts; each reason's link lists its declines and no other."""
    ids = mixed_history(app, make_order)
    client = signed_in(Role.STAFF, quick_hash=True)
    html = client.get("/").get_data(as_text=True)
    rate = _cell(html, "USD", "rate", "7d")
    listed = client.get(unescape(re.search(r'href="([^"]+)"', rate).group(1)))
    assert listed.status_code == 200
    body = listed.get_data(as_text=True)
    assert re.search(r'id="attempt-authorized">3<', body) and 'id="attempt-count">6<' in body
    assert len(re.findall(r"data-attempt=", body)) == 6
    assert body.count(">Authorized<") == 3 and body.count(">Declined<") == 3
    assert {int(n) for n in re.findall(r'href="/orders/(\d+)"', body)} == {
        ids["usd"],
        ids["voided"],
        ids["multi"],
        ids["declined"],
    }
    declines = _cell(html, "USD", "declines", "7d")
    links = dict(
        (unescape(code), unescape(href))
        for href, code in re.findall(r'<a href="([^"]+)"><code>([^<]+)</code>', declines)
    )
    assert set(links) == {"insufficient_funds", "card_declined"}
    for reason, count in (("insufficient_funds", 2), ("card_declined", 1)):
        body = client.get(links[reason]).get_data(as_text=True)
        assert f'id="attempt-count">{count}<' in body
        assert (
            re.findall(r"<td data-label=\"Reason\"><code>([^<]+)</code>", body) == [reason] * count
        )
    # A reason on captures, or a reason no code looks like, is refused as itself.
    for bad in ("kind=capture&reason=card_declined", "kind=decline&reason=" + "x" * 65):
        refused = client.get(f"/movements?{bad}&currency=USD&from=2026-12-01&to=2026-12-07")
        assert refused.status_code == 400 and 'id="list-problem"' in refused.get_data(as_text=True)


def test_fees_and_net_link_to_what_stripe_settled_in_that_currency(app, make_order, signed_in):
    """Fees and net are counted in the currency Stripe settled in: the USD sale's and the
    EUR sale's captures (settled in USD), and a USD refund whose fee Stripe did not report.
    A refund that failed is left out although it has a balance transaction. Both figures
    link to those rows, with the same sums; nothing was settled in EUR."""
    ids = mixed_history(app, make_order)
    with app.app_context():
        usd, eur = db.session.get(Order, ids["usd"]), db.session.get(Order, ids["eur"])
        for order, refund_id, amount, status in (
            (usd, "re_a", 500, "succeeded"),
            (eur, "re_e", 1000, "failed"),
        ):
            settled = BalanceFacts(
                id=f"txn_{refund_id}", amount=-500, currency="USD", net=-500, fee=None
            )
            _refund(order, refund_id, amount, status, settled)
        db.session.commit()
        settled = dict(
            db.session.execute(
                select(MoneyMovement.movement_key, MoneyMovement.settlement_currency).where(
                    MoneyMovement.balance_transaction_id.is_not(None)
                )
            ).all()
        )
    assert settled == {
        f"capture:ch_{ids['usd']}": "USD",
        f"capture:ch_{ids['eur']}": "USD",
        "refund:re_a": "USD",
        "refund:re_e": "USD",
    }
    client = signed_in(Role.SUPPORT, quick_hash=True)
    html = client.get("/").get_data(as_text=True)
    fee, net = _cell(html, "USD", "fee", "7d"), _cell(html, "USD", "net", "7d")
    assert "$2.08" in unescape(fee) and "(1 not reported)" in fee
    assert "$43.92" in unescape(net)  # 1,718 + 3,174 - 500 cents
    link = unescape(re.search(r'href="([^"]+)"', fee).group(1))
    assert link == unescape(re.search(r'href="([^"]+)"', net).group(1))
    listed = client.get(link)
    assert listed.status_code == 200
    body = unescape(listed.get_data(as_text=True))
    assert 'id="settled-count">3<' in body
    assert 'id="settled-fee">$2.08<' in body and 'id="settled-net">$43.92<' in body
    assert 'id="settled-unreported">1<' in body
    assert {int(n) for n in re.findall(r'href="/orders/(\d+)"', body)} == {ids["usd"], ids["eur"]}
    assert len(re.findall(r"data-movement=", body)) == 3 and body.count("not reported") == 1
    assert "€30.00" in body  # the EUR sale, in its own currency, its fee and net in USD
    # Nothing settled in EUR: the figures are zero and so is the list.
    eur_fee = _cell(html, "EUR", "fee", "7d")
    assert "€0.00" in unescape(eur_fee)
    nothing = client.get(unescape(re.search(r'href="([^"]+)"', eur_fee).group(1)))
    assert 'id="settled-count">0<' in nothing.get_data(as_text=True)
    # Paged two rows at a time, newest first, every row once.
    with app.app_context():
        first = movements.list_settled("USD", utcnow() - timedelta(days=1), utcnow(), per_page=2)
        rest = movements.list_settled(
            "USD", utcnow() - timedelta(days=1), utcnow(), per_page=2, older_than=first.older_than
        )
        seen = [row.movement_key for row in first.rows + rest.rows]
    assert len(seen) == len(set(seen)) == 3 and rest.older_than is None


def test_the_charts_tables_hold_what_the_bars_draw(app, make_order, signed_in):
    mixed_history(app, make_order)
    client = signed_in(Role.STAFF, quick_hash=True)
    html = client.get("/").get_data(as_text=True)
    assert "style=" not in html and "<script>" not in html  # the CSP allows neither
    table = html.split('id="chart-money-usd-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<th scope="row">([^<]+)</th><td class="num">([^<]+)</td>'
        r'<td class="num">([^<]+)</td>',
        table,
    )
    assert len(rows) == 30
    today = utcnow().date().isoformat()
    assert (today, "$33.00", "$5.00") in [tuple(unescape(c) for c in row) for row in rows]
    chart = html.split('id="chart-money-usd"', 1)[1].split("</svg>", 1)[0]
    titles = [unescape(t) for t in re.findall(r"<title>([^<]+)</title>", chart)]
    assert titles == [f"{today}: $33.00 captured", f"{today}: $5.00 refunded"]
    rate = html.split('id="chart-rate-usd-table"', 1)[1].split("</table>", 1)[0]
    assert (
        f'<th scope="row">{today}</th><td class="num">3</td><td class="num">6</td>'
        '<td class="num">50%</td>' in rate
    )


def test_holds_disputes_and_webhooks_now(app, make_order, signed_in):
    soon = utcnow() + timedelta(hours=10)
    later = utcnow() + timedelta(days=5)
    make_order(
        state="authorized", amount_authorized=2500, amount_capturable=2500, capture_before=soon
    )
    make_order(
        state="authorized", amount_authorized=1000, amount_capturable=1000, capture_before=later
    )
    make_order(
        state="authorized",
        currency="EUR",
        amount_authorized=700,
        amount_capturable=700,
        capture_before=later,
    )
    disputed = make_order(state="captured")
    with app.app_context():
        for n, status in enumerate(("needs_response", "under_review", "won")):
            db.session.add(
                Dispute(
                    order_id=disputed.id,
                    stripe_dispute_id=f"dp_{n}",
                    amount=500,
                    currency="usd",
                    reason="fraudulent",
                    status=status,
                    evidence_due_by=later + timedelta(days=n),
                )
            )
        db.session.add(  # open, but in another currency
            Dispute(
                order_id=disputed.id,
                stripe_dispute_id="dp_eur",
                amount=900,
                currency="EUR",
                reason="fraudulent",
                status="needs_response",
                evidence_due_by=soon,
            )
        )
        db.session.commit()
    client = signed_in(Role.STAFF, quick_hash=True)
    html = client.get("/").get_data(as_text=True)
    holds = html.split('id="home-holds"', 1)[1].split('id="home-disputes"', 1)[0]
    usd = holds.split('data-currency="USD"', 1)[1].split("</p>", 1)[0]
    assert re.search(r'holds-count">2<', usd) and "$35.00" in usd
    assert 'holds-expiring">1<' in usd
    eur = holds.split('data-currency="EUR"', 1)[1].split("</p>", 1)[0]
    assert 'holds-count">1<' in eur and "€7.00" in eur
    disputes = html.split('id="home-disputes"', 1)[1].split('id="home-webhooks"', 1)[0]
    usd = disputes.split('data-currency="USD"', 1)[1].split("</p>", 1)[0]
    assert 'disputes-count">2<' in usd and "$10.00" in usd
    # The figure links to those two: the open USD disputes, soonest deadline first.
    listed = client.get(unescape(re.search(r'href="([^"]+)"', usd).group(1)))
    assert listed.status_code == 200
    body = listed.get_data(as_text=True)
    assert "<h1>Open disputes in USD</h1>" in body and 'id="all-disputes"' in body
    with app.app_context():
        expected = [
            f"dispute-{d.id}"
            for d in db.session.scalars(
                select(Dispute)
                .where(Dispute.stripe_dispute_id.in_(("dp_0", "dp_1")))
                .order_by(Dispute.evidence_due_by)
            )
        ]
    assert re.findall(r'<tr id="(dispute-\d+)"', body) == expected
    # Every dispute is still one link away, and a figure for nothing open lists nothing.
    assert len(re.findall(r'<tr id="dispute-', client.get("/disputes").get_data(as_text=True))) == 4
    none = client.get("/disputes?open=1&currency=GBP").get_data(as_text=True)
    assert "No open disputes in GBP." in none
    for bad in ("open=1", "currency=USD", "open=yes&currency=USD", "open=1&currency=US$"):
        refused = client.get(f"/disputes?{bad}")
        assert refused.status_code == 400, bad
        assert 'id="list-problem"' in refused.get_data(as_text=True)


def test_movement_list_refuses_what_it_cannot_use(signed_in):
    client = signed_in(Role.SUPPORT, quick_hash=True)
    for query in (
        "kind=void&currency=USD&from=2026-12-01&to=2026-12-02",
        "kind=capture&currency=US&from=2026-12-01&to=2026-12-02",
        "kind=capture&currency=USD&from=2026-13-01&to=2026-12-02",
        "kind=capture&currency=USD&from=2026-12-03&to=2026-12-02",
        "kind=capture&currency=USD&from=2026-12-01&to=2026-12-02&older_than=x",
        "kind=settled&currency=U$D&from=2026-12-01&to=2026-12-02",
        "kind=settled&currency=USD&from=2026-12-01&to=2026-12-02&reason=card_declined",
        "kind=settled&currency=USD&from=2026-12-01&to=2026-12-02&older_than=-1",
    ):
        response = client.get(f"/movements?{query}")
        assert response.status_code == 400, query
        assert 'id="list-problem"' in response.get_data(as_text=True)


def test_the_rebuild_command_recomputes_what_was_lost(app, make_order):
    """Rollups emptied (as after the upgrade that adds them, with a ledger already there)
    come back from `flask overview rebuild`."""
    mixed_history(app, make_order)
    with app.app_context():
        before = stored_rollups()
        db.session.execute(OverviewBucket.__table__.delete())
        db.session.execute(DeclineBucket.__table__.delete())
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["overview", "rebuild", "--batch", "100"])
    assert result.exit_code == 0, result.output
    assert "from 17 captures, refunds and attempts" in result.output
    with app.app_context():
        assert stored_rollups() == before


def test_a_currency_with_attempts_and_nothing_captured_reads_plainly(app, make_order, signed_in):
    """A currency where cards were tried but nothing was captured or refunded in 30 days:
    its money chart says so on its scale instead of "$0.01", and one webhook delivery is
    "1 event"."""
    order = make_order()
    with app.app_context():
        _attempt(db.session.get(Order, order.id), "ch_declined", "failed")
        db.session.commit()
    client = app.test_client()
    assert send_event(client, hold_event(order.id)).status_code == 200
    html = signed_in(Role.STAFF, quick_hash=True).get("/").get_data(as_text=True)
    chart = html.split('id="chart-money-usd"', 1)[1].split("</svg>", 1)[0]
    assert "none in 30 days" in chart and "$0.01" not in chart
    webhooks = html.split('id="home-webhooks"', 1)[1].split("</div>", 1)[0]
    assert re.search(r"over 1 event</a>\.", webhooks), webhooks


def test_the_holds_figures_link_to_the_orders_holding_money(app, make_order, signed_in):
    """USD holds: two authorized orders and one partly captured (what is left of it is
    still held), one of them running out within the alert window; a EUR hold and a
    captured order are not listed. The count's link lists the three, soonest deadline
    first; the "run out" link lists the one."""
    now = utcnow()
    soon, later = now + timedelta(hours=10), now + timedelta(days=5)
    held = {"amount_authorized": 2500, "amount_capturable": 2500}
    first = make_order(state="authorized", **held, capture_before=soon)
    second = make_order(state="authorized", **held, capture_before=later + timedelta(days=1))
    part = make_order(
        state="partly_captured",
        amount_authorized=2500,
        amount_captured=1000,
        amount_capturable=1500,
        capture_before=later,
    )
    make_order(state="authorized", currency="EUR", **held, capture_before=soon)
    make_order(state="captured", amount_captured=2500)
    client = signed_in(Role.SUPPORT, quick_hash=True)
    html = client.get("/").get_data(as_text=True)
    usd = html.split('id="home-holds"', 1)[1].split('data-currency="USD"', 1)[1].split("</p>")[0]
    count_link, expiring_link = (unescape(h) for h in re.findall(r'href="([^"]+)"', usd))
    listed = client.get(count_link).get_data(as_text=True)
    assert 'id="hold-count">3<' in listed and "$65.00" in listed
    assert [int(n) for n in re.findall(r'data-order="(\d+)"', listed)] == [
        first.id,
        part.id,
        second.id,
    ]
    assert "(partly captured)" in listed
    expiring = client.get(expiring_link).get_data(as_text=True)
    assert [int(n) for n in re.findall(r'data-order="(\d+)"', expiring)] == [first.id]
    for bad in ("currency=US", "currency=USD&expiring=yes", "currency=USD&after=x"):
        refused = client.get(f"/holds?{bad}")
        assert refused.status_code == 400 and 'id="list-problem"' in refused.get_data(as_text=True)


def test_the_lists_behind_home_page_through_every_row_once(app, make_order):
    """Two rows a page: walking the captures, the attempts and the holds page by page
    gives each row once, in the order of the whole list."""
    mixed_history(app, make_order)
    for n in range(3):
        make_order(state="authorized", amount_capturable=100 + n, capture_before=utcnow())
    make_order(state="authorized", amount_capturable=100)  # no deadline known: last
    now = utcnow()
    week = (now - timedelta(days=7), now + timedelta(minutes=1))

    def walk(page_of, cursor_name):
        whole = page_of(None, 100).rows
        seen, cursor = [], None
        while True:
            page = page_of(cursor, 2)
            seen += page.rows
            cursor = getattr(page, cursor_name)
            if cursor is None:
                return [r.id for r in whole], [r.id for r in seen]

    with app.app_context():
        for page_of, cursor_name in (
            (
                lambda c, n: movements.list_movements(
                    "capture", "USD", *week, older_than=c, per_page=n
                ),
                "older_than",
            ),
            (
                lambda c, n: movements.list_attempts("USD", *week, older_than=c, per_page=n),
                "older_than",
            ),
            (
                lambda c, n: movements.list_holds(
                    "USD", now, timedelta(hours=1), after=c, per_page=n
                ),
                "after",
            ),
        ):
            whole, seen = walk(page_of, cursor_name)
            assert len(whole) >= 3 and seen == whole


def charge_event(
    name: str, created: datetime, received: datetime, *, status: str = "applied", delivered=True
) -> StripeEvent:
    """A stored event Stripe created then, received then: delivered, or found by the sync."""
    return StripeEvent(
        event_id=name,
        type="charge.captured",
        livemode=False,
        created=created,
        payload={"id": name, "type": "charge.captured", "data": {"object": {}}},
        source="webhook" if delivered else "sync",
        status=status,
        delivery_count=1 if delivered else 0,
        sync_count=0 if delivered else 1,
        first_received_at=received,
        last_received_at=received,
    )


def test_the_delivery_lag_links_to_the_slowest_deliveries_behind_it(app, signed_in):
    """Home's median and 99th percentile lag link to the day's deliveries, slowest first,
    with the same figures; events only the sync found, and older ones, are not counted."""
    now = utcnow()
    lags = {
        "evt_lag_1s": 1,
        "evt_lag_2s": 2,
        "evt_lag_3s": 3,
        "evt_lag_40s": 40,
        "evt_lag_10m": 600,
    }
    with app.app_context():
        for name, lag, created, delivered in [
            *((name, lag, now - timedelta(hours=2), True) for name, lag in lags.items()),
            ("evt_sync_only", 5000, now - timedelta(hours=3), False),
            ("evt_two_days_ago", 9000, now - timedelta(days=2), True),
        ]:
            received = created + timedelta(seconds=lag)
            db.session.add(charge_event(name, created, received, delivered=delivered))
        db.session.commit()
    app.config["EVENTS_PER_PAGE"] = 2
    client = signed_in(Role.SUPPORT, quick_hash=True)
    home = client.get("/").get_data(as_text=True)
    webhooks = home.split('id="home-webhooks"', 1)[1].split("</div>", 1)[0]
    assert 'id="lag-p50">3.0 s<' in webhooks and 'id="lag-p99">10 min<' in webhooks
    assert re.search(r"over 5 events</a>", webhooks)
    link = re.search(r'href="([^"]+)" id="lag-link"', webhooks).group(1)

    listed, pages = [], 0
    while link:
        response = client.get(unescape(link))
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert 'id="lag-deliveries">5<' in body
        assert 'id="lag-p50">3.0 s<' in body and 'id="lag-p99">10 min<' in body
        listed += re.findall(r"<code>(evt_[a-z0-9_]+)</code></a>", body)
        found = re.search(r'<a href="([^"]+)" rel="next">', body)
        link, pages = (found.group(1) if found else None), pages + 1
    assert listed == ["evt_lag_10m", "evt_lag_40s", "evt_lag_3s", "evt_lag_2s", "evt_lag_1s"]
    assert pages == 3

    with app.app_context():
        old = db.session.scalar(
            select(StripeEvent.id).where(StripeEvent.event_id == "evt_two_days_ago")
        )
    for bad, reason in (
        ("abc", "must be a whole number"),
        ("-1", "must be a whole number"),
        (str(old), "no longer among the day's deliveries"),
    ):
        refused = client.get(f"/events/lag?after={bad}")
        assert refused.status_code == 400, bad
        assert reason in unescape(refused.get_data(as_text=True)), bad


def test_the_failures_of_the_last_day_link_to_those_events(app, signed_in):
    """Home's "failed" counts the events that failed and were last received in the last 24
    hours; its link lists those and not the older failures the event log also keeps."""
    now = utcnow()
    with app.app_context():
        for name, received, status in (
            ("evt_failed_now", now - timedelta(hours=1), "failed"),
            ("evt_failed_before", now - timedelta(days=2), "failed"),
            ("evt_applied_now", now - timedelta(hours=1), "applied"),
        ):
            db.session.add(charge_event(name, received, received, status=status))
        db.session.commit()
    client = signed_in(Role.SUPPORT, quick_hash=True)
    html = client.get("/").get_data(as_text=True)
    failed = html.split('id="home-webhooks"', 1)[1].split("failed</a>", 1)[0]
    assert 'id="webhooks-failed">1<' in failed
    listed = client.get(unescape(re.findall(r'href="([^"]+)"', failed)[-1]))
    assert listed.status_code == 200
    body = listed.get_data(as_text=True)
    assert "evt_failed_now" in body
    assert "evt_failed_before" not in body and "evt_applied_now" not in body
    assert '<option value="24" selected>Received in the last 24 hours</option>' in body
    everything = client.get("/events?status=failed").get_data(as_text=True)
    assert "evt_failed_now" in everything and "evt_failed_before" in everything
    for bad in ("0", "721", "24h", "-1", "1e3", "٣"):
        refused = client.get(f"/events?status=failed&hours={bad}")
        assert refused.status_code == 400, bad
        assert "a number of hours from 1 to 720" in refused.get_data(as_text=True)
