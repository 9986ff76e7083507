"""The order list's filters as pure rules: the words of a name search and the days of a
created-date range (dashboard/domain/name_search.py, dashboard/domain/days.py)."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.domain.days import Instants, NotADay, days_span, parse_day
from dashboard.domain.name_search import (
    TooManyWords,
    fts5_query,
    name_words,
    search_words,
    tsquery,
)
from tests.support.web import full_width


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ada lov", ["ada", "lov"]),
        ("  Ada\tLOV  ", ["Ada", "LOV"]),
        ("O'Brien-Hopper", ["O", "Brien", "Hopper"]),
        ("ada ADA Ada lov", ["ada", "lov"]),  # each once, the first spelling kept
        ("Émile", ["Émile"]),  # accents are the index's to ignore
        (full_width("Ada") + " 42", ["Ada", "42"]),  # read as plain letters and digits
        ("snake_case", ["snake", "case"]),  # "_" is no letter
        ('"ada" OR lov* NEAR(x)', ["ada", "OR", "lov", "NEAR", "x"]),  # no operator survives
        ("%", []),
        ("' -- ;", []),
        ("a\U0010ffffb", ["a", "b"]),
    ],
)
def test_the_words_of_a_name_search(text, words):
    assert name_words(text) == words


def test_a_name_search_takes_at_most_eight_words():
    assert search_words("a b c d e f g h") == list("abcdefgh")
    with pytest.raises(TooManyWords, match="at most 8 words of a name; this one has 9"):
        search_words("a b c d e f g h i")


def test_each_word_is_the_start_of_a_word_in_either_index():
    assert fts5_query(["Ada", "lov"]) == '"Ada"* "lov"*'
    assert tsquery(["Ada", "lov"]) == "'Ada':* & 'lov':*"


@pytest.mark.parametrize("text", ["2026-12-06", "0001-01-01", "9999-12-31", "2028-02-29"])
def test_a_day_as_a_date_input_sends_it(text):
    assert parse_day(text) == date.fromisoformat(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13-01",
        "2026-02-30",
        "2027-02-29",
        "2026-2-3",
        "20261206",
        "2026-W49-7",  # ISO week dates: fromisoformat takes them, a date input never sends them
        "2026-12-06T00:00",
        "2026-12-06 ",
        full_width("2026") + "-12-06",
        "\u0662\u0660\u0662\u0666-12-06",  # Arabic-Indic digits
        "0000-01-01",
        "",
    ],
)
def test_anything_else_is_not_a_day(text):
    with pytest.raises(NotADay):
        parse_day(text)


def test_a_span_of_days_runs_from_the_first_ones_start_to_the_last_ones_end():
    assert days_span(date(2026, 12, 1), date(2026, 12, 5)) == Instants(
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 6, tzinfo=UTC)
    )
    assert days_span(None, date(2026, 12, 5)) == Instants(None, datetime(2026, 12, 6, tzinfo=UTC))
    assert days_span(date(2026, 12, 1), None) == Instants(datetime(2026, 12, 1, tzinfo=UTC), None)
    assert days_span(None, None) == Instants(None, None)


def test_the_days_of_another_time_zone_are_its_own():
    """What a user time zone will give: 1 December in Auckland (UTC+13 in summer) begins on
    30 November in UTC; in New York (UTC-5) five hours into it."""
    auckland = days_span(date(2026, 12, 1), date(2026, 12, 1), ZoneInfo("Pacific/Auckland"))
    assert auckland == Instants(
        datetime(2026, 11, 30, 11, tzinfo=UTC), datetime(2026, 12, 1, 11, tzinfo=UTC)
    )
    new_york = days_span(date(2026, 12, 1), None, ZoneInfo("America/New_York"))
    assert new_york.start == datetime(2026, 12, 1, 5, tzinfo=UTC)


def test_the_ends_of_the_calendar_are_open_ends():
    assert days_span(date.min, date.max) == Instants(datetime(1, 1, 1, tzinfo=UTC), None)
    east = timezone(timedelta(hours=14))
    assert days_span(date.min, date(1, 1, 1), east).start is None  # before year 1 in UTC
