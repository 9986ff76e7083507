"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import JSON, column, insert, inspect, select, table, text

from dashboard import MIGRATIONS_DIR, create_app
from dashboard.extensions import db
from dashboard.models.order_search import include_object
from tests.support.app import base_config
from tests.support.web import full_width

TABLES = {"users", "login_attempts", "orders", "order_lines", "timeline_entries"}


def test_migrated_database_matches_the_models(app):
    """The session fixture migrated an empty database; nothing is missing or extra (the
    buyer-name search index aside, which no model describes: as `flask db migrate` sees)."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, db.metadata) == []
        assert set(inspect(connection).get_table_names()) >= TABLES


def test_migrations_go_down_and_up_again_on_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    app = create_app(base_config(url), instance_path=str(tmp_path))
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        downgrade(directory=str(MIGRATIONS_DIR), revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        upgrade(directory=str(MIGRATIONS_DIR))
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        db.engine.dispose()


def test_refusals_already_stored_are_folded_into_counts_per_minute(tmp_path):
    """0007 turns one row per refusal into one count per reason per minute."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'refusals.sqlite'}"
    app = create_app(base_config(url), instance_path=str(tmp_path))
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0004")
        with db.engine.begin() as connection:
            for reason, at in (
                ("bad_signature", "2026-11-30 10:00:05"),
                ("bad_signature", "2026-11-30 10:00:59"),
                ("bad_signature", "2026-11-30 10:01:00"),
                ("too_large", "2026-11-30 10:00:30"),
            ):
                connection.execute(
                    text(
                        "INSERT INTO webhook_rejections (reason, remote_addr, created_at) "
                        "VALUES (:reason, '198.51.100.7', :at)"
                    ),
                    {"reason": reason, "at": at},
                )
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT reason, minute, count FROM webhook_rejection_counts "
                    "ORDER BY reason, minute"
                )
            ).all()
        db.engine.dispose()
    assert [(reason, str(minute)[:16], count) for reason, minute, count in rows] == [
        ("bad_signature", "2026-11-30 10:00", 2),
        ("bad_signature", "2026-11-30 10:01", 1),
        ("too_large", "2026-11-30 10:00", 1),
    ]


def test_addresses_stored_before_0005_are_normalised_and_a_look_alike_is_left_alone(app):
    """Rows written before 0005 were only lower-cased. Run on the test database of each
    backend: down to 0004, rows as the old code wrote them, then up again."""
    users = table(
        "users",
        column("id"),
        column("email"),
        column("password_hash"),
        column("role"),
        column("active"),
        column("created_at"),
    )
    orders = table(
        "orders",
        column("id"),
        column("buyer_name"),
        column("buyer_email"),
        column("currency"),
        column("total_amount"),
        column("state"),
        column("created_at"),
    )
    now = datetime.now(UTC)
    user = {"password_hash": "x", "role": "staff", "active": True, "created_at": now}
    order = {
        "buyer_name": "B",
        "currency": "USD",
        "total_amount": 100,
        "state": "open",
        "created_at": now,
    }
    with app.app_context():
        downgrade(directory=str(MIGRATIONS_DIR), revision="0004")
        with db.engine.begin() as connection:
            connection.execute(
                insert(users),
                [
                    {**user, "id": 1, "email": f"{full_width('wide')}@shop.example"},
                    {**user, "id": 2, "email": "plain@shop.example"},
                    {
                        **user,
                        "id": 3,
                        "email": f"{full_width('p')}lain@shop.example",
                    },  # plain@'s look-alike
                ],
            )
            connection.execute(
                insert(orders),
                [
                    {**order, "id": 1, "buyer_email": f"{full_width('buyer')}@example.com"},
                    {**order, "id": 2, "buyer_email": "ada@example.com"},
                ],
            )
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            emails = dict(connection.execute(select(users.c.id, users.c.email)).all())
            buyers = dict(connection.execute(select(orders.c.id, orders.c.buyer_email)).all())
        db.engine.dispose()
    assert emails == {
        1: "wide@shop.example",
        2: "plain@shop.example",
        3: f"{full_width('p')}lain@shop.example",
    }
    assert buyers == {1: "buyer@example.com", 2: "ada@example.com"}


def test_0021_takes_over_buyer_customers_and_links_paid_orders(app):
    """Customers made before 0021 (buyer_customers) and buyers who paid become customers;
    orders they paid link to them, and the cards orders kept become saved cards. Run on the
    test database of each backend: down to 0017, rows as that code wrote them, then up."""
    now = datetime.now(UTC)
    order = {"currency": "USD", "total_amount": 100, "created_at": now}
    orders = table(
        "orders",
        *(column(name) for name in ("id", "buyer_name", "buyer_email", "currency")),
        *(column(name) for name in ("total_amount", "state", "created_at", "authorized_at")),
        column("stripe_customer_id"),
        column("saved_payment_method_id"),
        column("card_consent_at"),
    )
    buyer_customers = table(
        "buyer_customers", column("email"), column("stripe_customer_id"), column("created_at")
    )
    with app.app_context():
        downgrade(directory=str(MIGRATIONS_DIR), revision="0017")
        with db.engine.begin() as connection:
            connection.execute(
                insert(buyer_customers),
                [
                    {
                        "email": "kept@example.com",
                        "stripe_customer_id": "cus_kept",
                        "created_at": now,
                    }
                ],
            )
            none = {"authorized_at": None, "stripe_customer_id": None}
            connection.execute(
                insert(orders),
                [
                    {
                        **order,
                        **none,
                        "id": 1,
                        "buyer_name": "Kept Card",
                        "state": "authorized",
                        "buyer_email": "kept@example.com",
                        "authorized_at": now,
                        "stripe_customer_id": "cus_kept",
                        "saved_payment_method_id": "pm_kept",
                        "card_consent_at": now,
                    },
                    {
                        **order,
                        **none,
                        "id": 2,
                        "buyer_name": "Paid Only",
                        "state": "captured",
                        "buyer_email": "paid@example.com",
                        "authorized_at": now,
                        "saved_payment_method_id": None,
                        "card_consent_at": None,
                    },
                    {
                        **order,
                        **none,
                        "id": 3,
                        "buyer_name": "Never Paid",
                        "state": "open",
                        "buyer_email": "open@example.com",
                        "saved_payment_method_id": None,
                        "card_consent_at": None,
                    },
                ],
            )
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            found = connection.execute(
                text("SELECT email, name, stripe_customer_id FROM customers ORDER BY email")
            ).all()
            links = connection.execute(
                text(
                    "SELECT o.id, c.email FROM orders o LEFT JOIN customers c "
                    "ON c.id = o.customer_id ORDER BY o.id"
                )
            ).all()
            cards = connection.execute(
                text("SELECT stripe_payment_method_id, status FROM saved_payment_methods")
            ).all()
        db.engine.dispose()
    assert [tuple(row) for row in found] == [
        ("kept@example.com", "Kept Card", "cus_kept"),
        ("paid@example.com", "Paid Only", None),
    ]
    assert [tuple(row) for row in links] == [
        (1, "kept@example.com"),
        (2, "paid@example.com"),
        (3, None),
    ]
    assert [tuple(row) for row in cards] == [("pm_kept", "attached")]


def test_0026_labels_the_attempts_kept_before_it_as_home_counts_them(app, make_order):
    """Attempts kept before 0026 get the currency Home counted them under (their own, else
    their order's) and, when declined, the reason; a success has none."""
    eur = make_order(currency="EUR")
    attempts = table(
        "payment_attempts",
        *(column(name) for name in ("id", "order_id", "attempt_key", "status")),
        column("details", JSON),
        *(column(name) for name in ("first_seen_at", "updated_at")),
    )
    now = datetime.now(UTC)
    with app.app_context():
        downgrade(directory=str(MIGRATIONS_DIR), revision="0025")
        with db.engine.begin() as connection:
            rows = [
                (1, "failed", {"currency": "usd", "decline_code": "insufficient_funds"}),
                (2, "failed", {"failure_code": "card_declined"}),
                (3, "succeeded", {}),
                (4, "failed", {}),
            ]
            connection.execute(
                insert(attempts),
                [
                    {
                        "id": row_id,
                        "order_id": eur.id,
                        "attempt_key": f"ch_{row_id}",
                        "status": status,
                        "details": details,
                        "first_seen_at": now,
                        "updated_at": now,
                    }
                    for row_id, status, details in rows
                ],
            )
        upgrade(directory=str(MIGRATIONS_DIR))
        labelled = db.session.execute(
            text("SELECT id, currency, decline_reason FROM payment_attempts ORDER BY id")
        ).all()
    assert [tuple(row) for row in labelled] == [
        (1, "USD", "insufficient_funds"),
        (2, "EUR", "card_declined"),
        (3, "EUR", None),
        (4, "EUR", "unknown"),
    ]


def test_0027_notes_the_currency_each_kept_balance_settled_in(app, make_order):
    """Ledger rows kept before 0027 get the currency Home counted their fee and net in:
    their balance transaction's, else their own; a row Stripe has not settled gets none."""
    eur = make_order(currency="EUR")
    ledger = table(
        "money_movements",
        *(column(name) for name in ("id", "order_id", "kind", "movement_key", "amount")),
        *(column(name) for name in ("currency", "status", "occurred_at")),
        column("balance", JSON),
    )
    rows = [
        (1, {"id": "txn_1", "currency": "usd", "net": 3174, "fee": 126}),
        (2, {"id": "txn_2", "net": 2900, "fee": 100}),  # no currency: the row's own
        (3, None),
    ]
    with app.app_context():
        downgrade(directory=str(MIGRATIONS_DIR), revision="0026")
        with db.engine.begin() as connection:
            connection.execute(
                insert(ledger),
                [
                    {
                        "id": row_id,
                        "order_id": eur.id,
                        "kind": "capture",
                        "movement_key": f"capture:ch_{row_id}",
                        "amount": 3000,
                        "currency": "EUR",
                        "status": "succeeded",
                        "occurred_at": datetime.now(UTC),
                        "balance": balance,
                    }
                    for row_id, balance in rows
                ],
            )
        upgrade(directory=str(MIGRATIONS_DIR))
        settled = db.session.execute(
            text("SELECT id, settlement_currency FROM money_movements ORDER BY id")
        ).all()
    assert [tuple(row) for row in settled] == [(1, "USD"), (2, "EUR"), (3, None)]
