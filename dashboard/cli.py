"""Flask commands: users, demo data and the sandbox. Each command commits once, at its end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade

from dashboard import MIGRATIONS_DIR
from dashboard.extensions import db
from dashboard.models import Role, User
from dashboard.payments.errors import PaymentError
from dashboard.services import users

ROLE = click.Choice([role.value for role in Role])


def _user_or_fail(email: str) -> User:
    user = users.find_by_email(email)
    if user is None:
        raise click.ClickException(f"There is no user {email}.")
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        users.check_password_strength(password)
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    return password


user_cli = AppGroup("user", help="Manage dashboard accounts.")


@user_cli.command("create")
@click.argument("email")
@click.option("--role", type=ROLE, required=True, help="admin, staff or support")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account (the password is prompted for unless --password-stdin)."""
    password = _read_password(password_stdin)
    try:
        user = users.create_user(email, password, Role(role))
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role}).")


@user_cli.command("list")
def user_list() -> None:
    """Every account, its role and whether it can sign in."""
    for user in users.list_users():
        click.echo(f"{user.email}\t{user.role}\t{'active' if user.active else 'deactivated'}")


@user_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLE)
def user_set_role(email: str, role: str) -> None:
    """Change an account's role."""
    user = _user_or_fail(email)
    try:
        users.set_role(user, Role(role))
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{user.email} is now {user.role}.")


@user_cli.command("deactivate")
@click.argument("email")
def user_deactivate(email: str) -> None:
    """Stop an account from signing in."""
    _set_active(email, active=False)


@user_cli.command("reactivate")
@click.argument("email")
def user_reactivate(email: str) -> None:
    """Let a deactivated account sign in again."""
    _set_active(email, active=True)


def _set_active(email: str, *, active: bool) -> None:
    user = _user_or_fail(email)
    try:
        users.set_active(user, active)
    except users.UserError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{user.email} is {'active' if active else 'deactivated'}.")


outbox_cli = AppGroup("outbox", help="Read and acknowledge domain events (docs/outbox.md).")


@outbox_cli.command("list")
@click.option("--all", "include_acked", is_flag=True, help="Include acknowledged events.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def outbox_list(include_acked: bool, limit: int, as_json: bool) -> None:
    """Events not yet acknowledged, oldest first."""
    from dashboard.services import outbox

    for event in outbox.pending(limit=limit, include_acked=include_acked):
        record = {
            "id": event.id,
            "type": event.type,
            "order_id": event.order_id,
            "created_at": event.created_at.isoformat(),
            "acked_at": event.acked_at.isoformat() if event.acked_at else None,
            "payload": event.payload,
        }
        if as_json:
            click.echo(json.dumps(record, sort_keys=True))
        else:
            acked = f"\tacked {record['acked_at']}" if event.acked_at else ""
            click.echo(
                f"{event.id}\t{event.type}\torder {event.order_id}\t{record['created_at']}{acked}"
            )


@outbox_cli.command("ack")
@click.argument("event_ids", nargs=-1, required=True, type=click.IntRange(min=1))
def outbox_ack(event_ids: tuple[int, ...]) -> None:
    """Acknowledge events as consumed (acknowledging twice is harmless)."""
    from dashboard.services import outbox

    try:
        events = [outbox.ack(event_id) for event_id in event_ids]
    except outbox.UnknownOutboxEvent as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    for event in events:
        acked = event.acked_at.isoformat() if event.acked_at else ""
        click.echo(f"{event.id}\t{event.type}\tacked {acked}")


def _migrate_and_seed() -> list[str]:
    """Bring the schema up to date and write the demo data; returns the login lines."""
    from dashboard.sandbox import demo
    from dashboard.sandbox.runner import SandboxSettings

    upgrade(directory=str(MIGRATIONS_DIR))
    settings = SandboxSettings.load_or_create(Path(current_app.instance_path))
    demo.seed(settings.passwords)
    db.session.commit()
    return [
        f"  {login.role.value:<8} {login.email:<24} {login.password}"
        for login in demo.demo_logins(settings.passwords)
    ]


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Migrate and write the demo users and orders (safe to run again)."""
    click.echo("Demo logins:")
    for line in _migrate_and_seed():
        click.echo(line)


@click.command("sandbox")
@with_appcontext
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
def sandbox(port: int) -> None:
    """Run the dashboard offline: localstripe for Stripe, demo data, on 127.0.0.1."""
    from dashboard.sandbox import demo
    from dashboard.sandbox.runner import (
        SANDBOX_SECRET_KEY,
        SandboxError,
        SandboxSettings,
        serve,
    )

    logins = _migrate_and_seed()
    db.session.remove()
    instance = Path(current_app.instance_path)

    def pay_demo_orders(localstripe_base: str) -> None:
        """Holds, captures, a refund and a void, made through localstripe like real ones."""
        current_app.config.update(
            STRIPE_API_BASE=localstripe_base, STRIPE_SECRET_KEY=SANDBOX_SECRET_KEY
        )
        current_app.extensions["stripe_gateway"] = None
        try:
            moved = demo.seed_payments()
        except (demo.DemoPaymentFailed, PaymentError) as error:
            raise SandboxError(f"Could not pay the demo orders: {error}") from error
        finally:
            db.session.remove()
        if moved:
            click.echo(f"Paid {moved} demo orders through localstripe.")

    click.echo("Demo logins (role, email, password):")
    for line in logins:
        click.echo(line)
    try:
        code = serve(
            instance=instance,
            port=port,
            settings=SandboxSettings.load_or_create(instance),
            echo=click.echo,
            with_localstripe=pay_demo_orders,
        )
    except SandboxError as error:
        raise click.ClickException(str(error)) from error
    sys.exit(code)


def init_app(app: Flask) -> None:
    app.cli.add_command(user_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(sandbox)
