"""Statements reach PostgreSQL written with its own `$n` placeholders, through psycopg's raw
cursors, so psycopg no longer rescans each long statement (dashboard/postgres_driver.py);
what they mean is unchanged, percent signs included."""

from __future__ import annotations

import psycopg
from sqlalchemy import event, select, text

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import Order


def test_a_page_sized_lookup_is_sent_with_dollar_placeholders_and_finds_every_row(app, make_order):
    orders = [make_order(buyer_name=f"Buyer {n}") for n in range(120)]
    wanted = [o.id for o in orders[::2]] + [10**9]  # 61 ids: more than psycopg caches
    sent: list[tuple[str, object]] = []
    with app.app_context():
        engine = db.engine

        def keep(_conn, cursor, statement, parameters, _context, _many):
            sent.append((statement, cursor))

        event.listen(engine, "before_cursor_execute", keep)
        try:
            found = db.session.scalars(select(Order.id).where(Order.id.in_(wanted))).all()
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        postgres = engine.dialect.name == "postgresql"
    assert sorted(found) == sorted(wanted[:-1])
    (statement, cursor) = sent[-1]
    if postgres:
        assert "$61" in statement and "%(" not in statement
        assert isinstance(cursor, psycopg.RawCursor)
    else:
        assert "?" in statement and "$1" not in statement  # SQLite keeps its own style


def test_percent_signs_in_statements_and_in_values_mean_what_they_say(app, make_order):
    make_order(buyer_name="Half 50% off")
    make_order(buyer_name="Half 500 off")
    with app.app_context():
        assert db.session.scalar(text("SELECT '100%' || :tail"), {"tail": "!"}) == "100%!"
        assert db.session.scalar(text("SELECT :a + :a"), {"a": 21}) == 42  # one value, twice
        names = db.session.scalars(
            select(Order.buyer_name).where(Order.buyer_name.like("%50!%%", escape="!"))
        ).all()
    assert names == ["Half 50% off"]


def test_a_server_side_cursor_reads_with_the_same_placeholders(app, make_order):
    """What the Python export reads through (`stream_results`): a named cursor on
    PostgreSQL, which must be a raw one too."""
    made = {make_order(buyer_name=f"Streamed {n}").id for n in range(5)}
    with app.app_context():
        rows = db.session.execute(
            select(Order.id)
            .where(Order.id.in_(made), Order.buyer_name.like("Streamed %"))
            .execution_options(stream_results=True, max_row_buffer=2)
        )
        assert {row.id for row in rows} == made


def test_only_psycopg_urls_change_style_and_an_explicit_style_is_kept(tmp_path):
    sqlite = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}", "SECRET_KEY": "x"},
        instance_path=str(tmp_path),
    )
    assert "paramstyle" not in sqlite.config["SQLALCHEMY_ENGINE_OPTIONS"]
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/never_connected"
    chosen = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"paramstyle": "pyformat"},
            "SECRET_KEY": "x",
        },
        instance_path=str(tmp_path),
    )
    with chosen.app_context():
        assert db.engine.dialect.paramstyle == "pyformat"
    plain = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"}, instance_path=str(tmp_path)
    )
    with plain.app_context():
        assert db.engine.dialect.paramstyle == "numeric_dollar"
