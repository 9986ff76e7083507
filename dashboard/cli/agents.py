"""`flask agent …`: register an AI agent for the checkout API (its key is printed once),
list them, revoke one."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dashboard.cli import command
from dashboard.cli.output import table, when
from dashboard.services import agents

group = AppGroup("agent", help="Manage the AI agents that buy through the checkout API.")


@command("create", group)
@click.argument("name")
@click.option("--webhook-url", required=True, help="where order events are sent (https://…)")
@click.option(
    "--signing-key",
    default=None,
    help="the agent's key for signing its requests (HMAC); leave out: none",
)
@click.option(
    "--webhook-secret",
    default=None,
    help="the secret our webhooks to the agent are signed with; leave out: a new one",
)
@click.option("--rate-limit", type=int, default=None, help="requests per minute")
def agent_create(
    name: str,
    webhook_url: str,
    signing_key: str | None,
    webhook_secret: str | None,
    rate_limit: int | None,
) -> None:
    """Register an agent; its API key (and webhook secret) is printed once, never again."""
    try:
        made = agents.register(
            name,
            webhook_url,
            signing_key=signing_key,
            webhook_secret=webhook_secret,
            rate_limit_per_minute=rate_limit,
        )
    except agents.AgentError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Registered {made.agent.name} ({made.agent.rate_limit_per_minute}/min).")
    click.echo("Give the agent these now; they are not shown again:")
    click.echo(f"API key: {made.api_key}")
    if webhook_secret is None:
        click.echo(f"Webhook signing secret: {made.webhook_secret}")


@command("list", group)
def agent_list() -> None:
    """Every agent: its key's first characters, limit, webhook URL, whether revoked."""
    rows = [
        [
            str(agent.id),
            agent.name,
            agent.key_prefix + "…",
            f"{agent.rate_limit_per_minute}/min",
            "signed" if agent.has_signing_key else "-",
            f"revoked {when(agent.revoked_at)}" if agent.revoked_at else "active",
            agent.webhook_url,
        ]
        for agent in agents.all_agents()
    ]
    if not rows:
        click.echo("No agents are registered.")
        return
    table(["id", "name", "key", "limit", "requests", "status", "webhook"], rows)


@command("revoke", group)
@click.argument("agent")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def agent_revoke(agent: str, yes: bool) -> None:
    """Refuse an agent's key from now on (by name or id); its orders stay."""
    try:
        found = agents.find(agent)
    except agents.AgentError as error:
        raise click.ClickException(str(error)) from error
    if found.revoked_at is not None:
        click.echo(f"{found.name}'s key was already revoked ({when(found.revoked_at)}).")
        return
    if not yes:
        click.confirm(
            f"Revoke {found.name}'s key? Its checkout requests are refused from now on.",
            abort=True,
        )
    agents.revoke(found)
    click.echo(f"Revoked {found.name}'s key.")
