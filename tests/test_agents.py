"""Registering AI agents and knowing them by their API key (services/agents.py): the key is
shown once and stored only as its hash, a wrong or revoked key finds nobody, and each
agent's rate limit holds for requests arriving together, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Agent
from dashboard.services import agents
from dashboard.services.agents import AgentError
from tests.support.concurrency import all_at_once

SIGNING_KEY = "k" * 40


def register(app, name="Shopping Agent", **options):
    with app.app_context():
        made = agents.register(name, "https://agent.example/hooks", **options)
        db.session.commit()
        return made.agent.id, made.api_key, made.webhook_secret


def test_the_key_is_shown_once_and_stored_only_as_its_hash(app):
    agent_id, api_key, secret = register(app, signing_key=SIGNING_KEY)
    assert api_key.startswith("acp_") and len(api_key) >= 40
    assert secret.startswith("whsec_")
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        stored = " ".join(
            str(value)
            for value in db.session.execute(select(Agent.__table__)).one()  # every column
        )
        assert api_key not in stored and secret not in stored and SIGNING_KEY not in stored
        assert agent.key_hash == hashlib.sha256(api_key.encode()).hexdigest()
        assert agent.key_prefix == api_key[:12]
        # What must be used, not compared, comes back out of its seal.
        assert agents.webhook_secret(agent) == secret
        assert agents.signing_key(agent) == SIGNING_KEY
        assert agent.rate_limit_per_minute == app.config["AGENT_RATE_LIMIT_PER_MINUTE"]


def test_the_right_key_finds_its_agent_and_a_wrong_one_nobody(app):
    agent_id, api_key, _ = register(app)
    _, other_key, _ = register(app, name="Other agent")
    with app.app_context():
        assert agents.authenticate(api_key).id == agent_id
        assert agents.authenticate(other_key).id != agent_id
        for wrong in ("", api_key[:-1], api_key + "x", api_key.upper(), "acp_" + "A" * 43):
            assert agents.authenticate(wrong) is None, wrong
        assert agents.authenticate("\udcff") is None


def test_a_revoked_key_is_refused(app):
    agent_id, api_key, _ = register(app)
    with app.app_context():
        agent = agents.find("Shopping Agent")
        assert agents.revoke(agent) is True
        assert agents.revoke(agent) is False
        db.session.commit()
        assert agents.authenticate(api_key) is None
        assert db.session.get(Agent, agent_id).revoked_at is not None


@pytest.mark.parametrize(
    ("name", "url", "options", "message"),
    [
        ("", "https://a.example/", {}, "Give the agent a name."),
        ("x" * 101, "https://a.example/", {}, "longer than 100"),
        ("bad\x00name", "https://a.example/", {}, "control characters"),
        ("evil\u202egnp.exe", "https://a.example/", {}, "control characters"),
        ("A", "ftp://a.example/", {}, "must start with https://"),
        ("A", "not a url", {}, "must start with https://"),
        ("A", "https://user:pw@a.example/", {}, "user name or password"),
        ("A", "https://a.example/" + "x" * 2048, {}, "longer than 2048"),
        ("A", "https://a.example/", {"signing_key": "short"}, "at least 32"),
        ("A", "https://a.example/", {"signing_key": "k" * 40 + " k"}, "spaces"),
        ("A", "https://a.example/", {"rate_limit_per_minute": 0}, "between 1 and"),
    ],
)
def test_what_cannot_register_an_agent_says_why_and_writes_nothing(
    app, name, url, options, message
):
    with app.app_context():
        with pytest.raises(AgentError, match=message):
            agents.register(name, url, **options)
        db.session.rollback()
        assert db.session.scalar(select(Agent.id)) is None


def test_a_second_agent_of_the_same_name_is_refused(app):
    register(app)
    with app.app_context(), pytest.raises(AgentError, match="already named"):
        agents.register("Shopping  Agent ", "https://b.example/")


def test_the_rate_limit_holds_for_requests_arriving_together(app):
    """Twelve requests at once against a limit of five, each in its own session and
    connection, as gunicorn's workers would be: five get through, the rest are told when
    to come back."""
    _, api_key, _ = register(app, rate_limit_per_minute=5)

    def request():
        with app.app_context():
            agent = agents.authenticate(api_key)
            verdict = agents.take_rate_limit_place(agent)
            db.session.commit()
            return verdict

    verdicts = all_at_once([request] * 12)
    assert Counter(v.allowed for v in verdicts) == {True: 5, False: 7}
    assert all(1 <= v.retry_after <= 60 for v in verdicts if not v.allowed)


def test_a_request_counts_even_when_what_follows_is_rolled_back(app):
    """An agent's request that fails (and writes nothing) still takes its place."""
    agent_id, _, _ = register(app, rate_limit_per_minute=1)
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        assert agents.take_rate_limit_place(agent).allowed
        db.session.rollback()
        assert not agents.take_rate_limit_place(db.session.get(Agent, agent_id)).allowed


def test_the_limit_starts_again_each_minute_and_counts_each_agent_apart(app):
    agent_id, _, _ = register(app, rate_limit_per_minute=2)
    other_id, _, _ = register(app, name="Other", rate_limit_per_minute=2)
    start = datetime(2026, 12, 7, 10, 0, 50, tzinfo=UTC)
    with app.app_context():
        agent, other = db.session.get(Agent, agent_id), db.session.get(Agent, other_id)
        taken = [agents.take_rate_limit_place(agent, now=start).allowed for _ in range(3)]
        assert taken == [True, True, False]
        assert agents.take_rate_limit_place(agent, now=start).retry_after == 10
        assert agents.take_rate_limit_place(other, now=start).allowed
        later = start + timedelta(seconds=10)
        assert agents.take_rate_limit_place(agent, now=later).allowed
