"""`flask seed-demo` and `flask sandbox`: the demo data, and the dashboard run offline
against localstripe."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade

from dashboard import MIGRATIONS_DIR
from dashboard.cli import command
from dashboard.extensions import db
from dashboard.payments import gateway
from dashboard.payments.errors import PaymentError
from dashboard.sandbox import demo
from dashboard.sandbox.runner import SANDBOX_SECRET_KEY, SandboxError, SandboxSettings, serve
from dashboard.transactions import unit_of_work


def _migrate_and_seed() -> list[str]:
    """Bring the schema up to date and write the demo data; returns the login lines."""
    upgrade(directory=str(MIGRATIONS_DIR))
    settings = SandboxSettings.load_or_create(Path(current_app.instance_path))
    with unit_of_work():
        demo.seed(settings.passwords)
    return [
        f"  {login.role.value:<8} {login.email:<24} {login.password}"
        for login in demo.demo_logins(settings.passwords)
    ]


@command("seed-demo")
def seed_demo() -> None:
    """Migrate and write the demo users and orders (safe to run again)."""
    click.echo("Demo logins:")
    for line in _migrate_and_seed():
        click.echo(line)


@command("sandbox")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
def sandbox(port: int) -> None:
    """Run the dashboard offline: localstripe for Stripe, demo data, on 127.0.0.1."""
    logins = _migrate_and_seed()
    db.session.remove()
    instance = Path(current_app.instance_path)

    def pay_demo_orders(localstripe_base: str) -> None:
        """Holds, captures, a refund and a void, made through localstripe like real ones."""
        current_app.config.update(
            STRIPE_API_BASE=localstripe_base, STRIPE_SECRET_KEY=SANDBOX_SECRET_KEY
        )
        gateway.forget(current_app)
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
