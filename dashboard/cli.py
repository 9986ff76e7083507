"""Flask commands: users, demo data, the sandbox, and catching up with Stripe.

Each command commits once, at its end; the `flask stripe` sweeps commit as they go
instead (per page, per order, per event), so an interrupted one loses nothing.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade

from dashboard import MIGRATIONS_DIR
from dashboard.domain.money import format_minor
from dashboard.extensions import db
from dashboard.models import EventStatus, Role, User, utcnow
from dashboard.payments import gateway
from dashboard.payments.errors import PaymentError
from dashboard.payments.event_list import EVENT_RETENTION
from dashboard.services import users
from dashboard.transactions import unit_of_work

if TYPE_CHECKING:
    from dashboard.services.authorization_sweep import Hold, SweepReport

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


# -- flask stripe ... ----------------------------------------------------------------------

# Exit status of a sweep that finished but found something a person should look at (drift,
# events that failed to apply). 1 is a sweep that could not do its work, 2 a usage error.
NEEDS_ATTENTION = 3


class Duration(click.ParamType[timedelta, str | timedelta]):
    """A length of time: a number and a unit, like 90s, 15m, 12h, 7d, or 1d12h."""

    name = "duration"
    _FORM = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")

    def __init__(
        self, *, positive: bool = False, at_most: timedelta | None = None, why: str = ""
    ) -> None:
        self.positive = positive
        self.at_most = at_most
        self.why = why

    def convert(
        self, value: str | timedelta, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        match = self._FORM.fullmatch(text)
        if not text or match is None:
            self.fail(
                f"{value!r} is not a duration: write a number and a unit, like 90s, 15m, "
                "12h or 7d.",
                param,
                ctx,
            )
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        try:
            duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        except OverflowError:
            self.fail(f"{value!r} is longer than any calendar.", param, ctx)
        if self.positive and not duration:
            self.fail(f"{value!r} is no time at all: give a length, like 1h.", param, ctx)
        if self.at_most is not None and duration > self.at_most:
            self.fail(f"{value!r} is more than {_span(self.at_most)}{self.why}.", param, ctx)
        return duration


def _span(duration: timedelta) -> str:
    """A duration as the options take it: 30d, 1h, 1d12h, 0s."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(("  " + "  ".join(cells)).rstrip())


stripe_cli = AppGroup(
    "stripe", help="Catch up with Stripe: missed events, open payments, failed events."
)


@stripe_cli.command("sync")
@click.option(
    "--since",
    type=Duration(
        positive=True, at_most=EVENT_RETENTION, why=": Stripe lists the events of 30 days only"
    ),
    help="Read from this long ago (at most 30d) instead of from the watermark.",
)
def stripe_sync(since: timedelta | None) -> None:
    """Read Stripe's event list from where the last sync stopped into the event inbox.

    Events the webhooks already brought are counted, never applied twice. Exit status 3 if
    some failed to apply (kept for `flask stripe reprocess`). Safe to run from cron on
    several hosts: one sync runs at a time, the others say so and exit.
    """
    from dashboard.services.inbox.sync import EventSync
    from dashboard.services.sweep_lock import sweep_lock

    with sweep_lock("stripe-sync") as held:
        if not held:
            click.echo("Another `flask stripe sync` is running: nothing done.")
            return
        sync = EventSync()
        plan = sync.plan(since)
        if plan.note:
            click.echo(plan.note, err=True)
        span = max(int((utcnow() - plan.starts_at).total_seconds()), 1)
        try:
            with click.progressbar(
                length=span,
                label=f"Reading Stripe events since {_when(plan.starts_at)}",
                file=sys.stderr,
            ) as bar:

                def on_page(created: datetime) -> None:
                    position = min(max(int((created - plan.starts_at).total_seconds()), 0), span)
                    bar.update(max(position - bar.pos, 0))

                result = sync.run(plan, on_page=on_page)
                bar.update(span - bar.pos)
        except PaymentError as error:
            raise click.ClickException(
                f"Stripe's event list could not be read: {error.message} What was read is "
                "kept; the next sync resumes from there."
            ) from error
        mark = sync.watermark()
    click.echo(
        f"Read {_count(result.read, 'event')} ({_count(result.pages, 'page')}): {result.new} new, "
        f"{result.already} received before, {result.skipped} skipped (types this dashboard "
        "does not act on)."
    )
    if result.failed:
        click.echo(
            f"{len(result.failed)} failed to apply, kept for `flask stripe reprocess`: "
            + ", ".join(result.failed)
        )
    if result.rejected:
        click.echo(
            f"{len(result.rejected)} not shaped like Stripe events, not stored: "
            + ", ".join(result.rejected)
        )
    if not plan.moves_watermark:
        click.echo("The watermark stays: --since starts after it, the time between is unread.")
    if mark is not None:
        click.echo(f"Watermark: {mark.event_id or '-'} ({_when(mark.created)}).")
    if result.needs_attention:
        sys.exit(NEEDS_ATTENTION)


@stripe_cli.command("sweep-holds")
@click.option(
    "--older-than",
    type=Duration(),
    default="1h",
    show_default=True,
    help="Re-read orders created at least this long ago (their webhooks have had their chance).",
)
@click.option(
    "--within",
    type=Duration(positive=True),
    default="30d",
    show_default=True,
    help="...and at most this long ago.",
)
@click.option(
    "--void-expired",
    is_flag=True,
    help="Void the holds past their capture deadline (needs SWEEP_VOID_EXPIRED_HOLDS=1).",
)
def stripe_sweep_holds(older_than: timedelta, within: timedelta, void_expired: bool) -> None:
    """Re-read open payments from Stripe, record drift, list holds near their deadline.

    Exit status: 0 all agree, 3 drift was found (recorded on the order and applied),
    1 some orders could not be read or voided. Safe to run from cron on several hosts.
    """
    from dashboard.services.authorization_sweep import AuthorizationSweep, VoidingNotEnabled
    from dashboard.services.sweep_lock import sweep_lock

    try:
        sweep = AuthorizationSweep(older_than=older_than, within=within, void_expired=void_expired)
    except VoidingNotEnabled as error:
        raise click.UsageError(str(error)) from error
    with sweep_lock("stripe-sweep-holds") as held:
        if not held:
            click.echo("Another `flask stripe sweep-holds` is running: nothing done.")
            return
        report = sweep.run()
    _print_sweep(report)
    if report.failures:
        sys.exit(1)
    if report.drift:
        sys.exit(NEEDS_ATTENTION)


def _print_sweep(report: SweepReport) -> None:
    click.echo(
        f"Re-read {_count(report.checked, 'order')} at Stripe (not final, created "
        f"{_span(report.older_than)} or more ago)."
    )
    if report.drift:
        click.echo(f"Drift on {_count(len(report.drift), 'order')}, each recorded on its timeline:")
        _table(
            ("order", "Stripe", "differences", "outcome"),
            [
                (d.number, f"{d.stripe_id} {d.stripe_status}", "; ".join(d.differences), d.outcome)
                for d in report.drift
            ],
        )
    else:
        click.echo("No drift: every order re-read agrees with Stripe.")
    if report.unreadable:
        click.echo(f"Could not be read ({len(report.unreadable)}):")
        _table(("order", "why"), [(s.number, s.reason) for s in report.unreadable])
    if report.awaiting:
        click.echo(f"Not compared, a request is in flight ({len(report.awaiting)}):")
        _table(("order", "why"), [(s.number, s.reason) for s in report.awaiting])

    def holds(rows: list[Hold]) -> list[tuple[str, str, str, str]]:
        return [
            (
                h.number,
                format_minor(h.capturable, h.currency),
                _when(h.capture_before),
                _span(abs(h.capture_before - report.now) // 60 * 60) if h.capture_before else "-",
            )
            for h in rows
        ]

    click.echo(f"Holds expiring within 24 h ({len(report.expiring)}):")
    if report.expiring:
        _table(("order", "held", "capture before", "left"), holds(report.expiring))
    if report.past_deadline:
        click.echo(f"Holds past their capture deadline ({len(report.past_deadline)}):")
        _table(("order", "held", "capture before", "ago"), holds(report.past_deadline))
        if not report.voiding:
            click.echo(
                "Not voided: run with --void-expired (the merchant enables it with "
                "SWEEP_VOID_EXPIRED_HOLDS=1), or capture or void them on the order page."
            )
    if report.voids:
        click.echo(f"Voids ({len(report.voids)}):")
        _table(
            ("order", "result", "message"),
            [(v.number, "voided" if v.ok else "failed", v.message) for v in report.voids],
        )


@stripe_cli.command("reprocess")
@click.option(
    "--event",
    "event_ids",
    multiple=True,
    metavar="EVENT_ID",
    help="Only this stored event (evt_...), also an unmatched one; repeatable.",
)
@click.option(
    "--older-than",
    type=Duration(),
    default="2m",
    show_default=True,
    help="Without --event: failed and pending events last received at least this long ago "
    "(a younger pending one may still be in a webhook worker's hands).",
)
def stripe_reprocess(event_ids: tuple[str, ...], older_than: timedelta) -> None:
    """Retry events whose processing failed or never finished.

    Applied and ignored events are left alone; an event being processed elsewhere at the
    same moment is applied once. Exit status 3 if some still fail.
    """
    from dashboard.services.inbox import store

    if event_ids:
        stored = store.ids_of(list(event_ids))
        for event_id in event_ids:
            if event_id not in stored:
                raise click.ClickException(f"No stored event {event_id}.")
        rows = [stored[event_id] for event_id in event_ids]
    else:
        rows = store.retryable_ids(older_than)
    if not rows:
        click.echo("No failed or stale pending events.")
        return
    counts: dict[str, int] = {}
    for row_id in rows:
        # Each event in a unit of work of its own: one that fails again costs no other.
        with unit_of_work():
            processed = store.process(row_id, include_unmatched=bool(event_ids))
        row = processed.row
        if not processed.ran:
            click.echo(f"{row.event_id} {row.type}: already {row.status}, nothing done")
            continue
        counts[row.status] = counts.get(row.status, 0) + 1
        detail = row.error if row.status == EventStatus.FAILED.value else row.reason
        click.echo(f"{row.event_id} {row.type}: {row.status} ({detail})")
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    click.echo(f"Retried {sum(counts.values())} of {len(rows)} events: {summary or 'none'}.")
    if counts.get(EventStatus.FAILED.value):
        sys.exit(NEEDS_ATTENTION)


def init_app(app: Flask) -> None:
    app.cli.add_command(user_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(sandbox)
    app.cli.add_command(stripe_cli)
