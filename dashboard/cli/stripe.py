"""`flask stripe …`: catching up with Stripe from cron (sync, sweep-holds, reprocess,
fees), applying the webhook deliveries stored but not applied yet (apply), and
registering the shop's domain for wallets (register-domain).

Each is safe to run on several hosts at once: sync and sweep-holds take a lock
(`services.sweep_lock`), reprocess claims each event before applying it. Exit status: 0
done, 3 done but something needs a person, 1 the work could not be done, 2 a wrong option.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import click
from click.core import ParameterSource
from flask.cli import AppGroup

from dashboard.cli import command, stop_on_signals
from dashboard.cli.durations import Duration, span
from dashboard.cli.output import count, table, when
from dashboard.domain.money import format_minor
from dashboard.models import EventStatus, utcnow
from dashboard.payments.errors import PaymentError
from dashboard.payments.event_list import EVENT_RETENTION
from dashboard.services import wallet_domains
from dashboard.services.authorization_sweep import (
    AuthorizationSweep,
    Hold,
    SweepReport,
    VoidingNotEnabled,
)
from dashboard.services.inbox import applier, store
from dashboard.services.inbox.sync import EventSync
from dashboard.services.payments import fees, ledger
from dashboard.services.sweep_lock import sweep_lock
from dashboard.transactions import unit_of_work

# Exit status of a sweep that finished but found something a person should look at (drift,
# events that failed to apply). 1 is a sweep that could not do its work, 2 a usage error.
NEEDS_ATTENTION = 3


group = AppGroup(
    "stripe", help="Catch up with Stripe: missed events, open payments, failed events."
)


@command("sync", group)
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
                label=f"Reading Stripe events since {when(plan.starts_at)}",
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
        f"Read {count(result.read, 'event')} ({count(result.pages, 'page')}): {result.new} new, "
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
        click.echo(f"Watermark: {mark.event_id or '-'} ({when(mark.created)}).")
    if result.needs_attention:
        sys.exit(NEEDS_ATTENTION)


@command("sweep-holds", group)
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
        f"Re-read {count(report.checked, 'order')} at Stripe (not final, created "
        f"{span(report.older_than)} or more ago)."
    )
    if report.drift:
        click.echo(f"Drift on {count(len(report.drift), 'order')}, each recorded on its timeline:")
        table(
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
        table(("order", "why"), [(s.number, s.reason) for s in report.unreadable])
    if report.awaiting:
        click.echo(f"Not compared, a request is in flight ({len(report.awaiting)}):")
        table(("order", "why"), [(s.number, s.reason) for s in report.awaiting])

    def holds(rows: list[Hold]) -> list[tuple[str, str, str, str]]:
        return [
            (
                h.number,
                format_minor(h.capturable, h.currency),
                when(h.capture_before),
                span(abs(h.capture_before - report.now) // 60 * 60) if h.capture_before else "-",
            )
            for h in rows
        ]

    click.echo(f"Holds expiring within 24 h ({len(report.expiring)}):")
    if report.expiring:
        table(("order", "held", "capture before", "left"), holds(report.expiring))
    if report.past_deadline:
        click.echo(f"Holds past their capture deadline ({len(report.past_deadline)}):")
        table(("order", "held", "capture before", "ago"), holds(report.past_deadline))
        if not report.voiding:
            click.echo(
                "Not voided: run with --void-expired (the merchant enables it with "
                "SWEEP_VOID_EXPIRED_HOLDS=1), or capture or void them on the order page."
            )
    expiring, lapsed = report.alerted
    click.echo(
        f"Alert emails queued for {expiring} hold(s) inside the alert window and {lapsed} "
        "past their deadline (each hold is alerted once; `flask outbox relay` sends them)."
    )
    if report.released:
        click.echo(f"Old holds a new one replaced, released ({len(report.released)}):")
        table(("order", "result"), [(r.number, r.reason) for r in report.released])
    if report.voids:
        click.echo(f"Voids ({len(report.voids)}):")
        table(
            ("order", "result", "message"),
            [(v.number, "voided" if v.ok else "failed", v.message) for v in report.voids],
        )


@command("reprocess", group)
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
    summary = ", ".join(f"{number} {status}" for status, number in sorted(counts.items()))
    click.echo(f"Retried {sum(counts.values())} of {len(rows)} events: {summary or 'none'}.")
    if counts.get(EventStatus.FAILED.value):
        sys.exit(NEEDS_ATTENTION)


@command("apply", group)
@click.option(
    "--page",
    type=click.IntRange(1, 10_000),
    default=200,
    show_default=True,
    help="Apply this many stored events per transaction.",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Keep applying deliveries as they are stored, until SIGTERM or Ctrl-C.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.01, 60),
    default=applier.FOLLOW_INTERVAL,
    show_default=True,
    help="With --follow: seconds to wait after a page that was not full.",
)
@click.pass_context
def stripe_apply(ctx: click.Context, page: int, follow: bool, interval: float) -> None:
    """Apply the webhook deliveries stored but not applied yet, oldest first.

    Each web worker does this in the background right after answering Stripe; this is the
    same work by hand or from cron. With --follow it is a long-running service of its own
    (with WEBHOOK_APPLY_IN_BACKGROUND=0 for the workers): it applies deliveries as they
    arrive, and stops after the page under way. Safe beside the workers and other appliers:
    each event is claimed, then applied once.
    """
    if not follow:
        if ctx.get_parameter_source("interval") is not ParameterSource.DEFAULT:
            raise click.UsageError("--interval goes with --follow.")
        done = applier.drain(page)
        click.echo(f"Applied {_applied(done)}.")
        return
    stop = stop_on_signals()
    click.echo(
        f"Applying stored webhook deliveries as they arrive, in pages of {page} "
        f"(after a page that is not full, every {interval:g} s). SIGTERM or Ctrl-C stops."
    )
    done = applier.follow(page, stop, interval)
    click.echo(f"Stopped. Applied {_applied(done)}.")


def _applied(done: applier.Drained) -> str:
    return f"{count(done.applied, 'stored event')} in {count(done.passes, 'page')}"


@command("fees", group)
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    help="At most this many orders, oldest first.",
)
def stripe_fees(limit: int) -> None:
    """Read the fees and net Stripe has reported since for captures and refunds.

    Stripe names a balance transaction before it can always describe it; the webhooks that
    announce it read it as they arrive, and this catches up with any they missed. Each
    order is committed on its own. Exit status 3 if some could not be read.
    """
    order_ids = fees.orders_missing_fees(limit)
    if not order_ids:
        click.echo("No capture or refund is waiting for its fees.")
        return
    found = 0
    for order_id in order_ids:
        with unit_of_work():
            found += fees.fetch_missing(ledger.lock_order(order_id))
    with unit_of_work():
        left = len(fees.orders_missing_fees(limit))
    click.echo(
        f"Read {count(found, 'balance transaction')} for {count(len(order_ids), 'order')}; "
        f"{count(left, 'order')} still waiting."
    )
    if left:
        sys.exit(NEEDS_ATTENTION)


@command("register-domain", group)
@click.argument("domain")
def stripe_register_domain(domain: str) -> None:
    """Register DOMAIN (e.g. pay.shop.example) with Stripe for Apple Pay and Google Pay on
    the payment page, and print each wallet's status. Apple Pay also needs the file that
    APPLE_PAY_DOMAIN_FILE names served on that domain. Exit status 1 if Stripe refused."""
    try:
        statuses = wallet_domains.register(domain)
    except wallet_domains.BadDomain as bad:
        raise click.UsageError(str(bad)) from None
    except PaymentError as failed:
        click.echo(f"Stripe did not register {domain}: {failed.message}", err=True)
        sys.exit(1)
    click.echo(
        f"Registered {statuses.pop('domain')} with Stripe (enabled: {statuses.pop('enabled')})."
    )
    for wallet, status in statuses.items():
        click.echo(f"  {wallet.replace('_', ' ')}: {status}")
