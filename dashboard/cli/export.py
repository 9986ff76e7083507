"""`flask export orders|payments|disputes --from DAY --to DAY [--out FILE] [--time-zone
ZONE] [--bom]`: the dashboard's CSV exports from the command line, streamed to a file or
standard output, with a progress bar on standard error. Each export is audited."""

from __future__ import annotations

import getpass
import sys
from datetime import date

import click

from dashboard.cli import command
from dashboard.domain.days import NotADay, days_span, parse_day
from dashboard.domain.time_zones import time_zone
from dashboard.services import exports
from dashboard.services.exports import Export, ExportKind


class Day(click.ParamType):  # type: ignore[type-arg]
    """A day as YYYY-MM-DD."""

    name = "day"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value).strip())
        except NotADay:
            self.fail(
                f"{value!r} is not a day: write it as YYYY-MM-DD (such as 2026-12-06).", param, ctx
            )


@command("export")
@click.argument("kind", type=click.Choice([k.value for k in ExportKind]))
@click.option("--from", "first", type=Day(), help="First day (included).")
@click.option("--to", "last", type=Day(), help="Last day (included).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to FILE (default: standard output).",
)
@click.option(
    "--time-zone",
    "zone",
    default="UTC",
    show_default=True,
    help="The zone the days are in (IANA name).",
)
@click.option("--bom", is_flag=True, help="Start with a byte order mark, for spreadsheets.")
def export(
    kind: str, first: date | None, last: date | None, out: str | None, zone: str, bom: bool
) -> None:
    """Export orders, payments or disputes for a span of days as CSV."""
    if first is not None and last is not None and first > last:
        raise click.BadParameter(
            f"--from ({first.isoformat()}) is after --to ({last.isoformat()}): swap them.",
            param_hint="'--from'",
        )
    tz = time_zone(zone)
    if tz is None:
        raise click.BadParameter(
            f"{zone!r} is not a time zone (such as Europe/Paris or UTC).",
            param_hint="'--time-zone'",
        )
    job = Export(ExportKind(kind), days_span(first, last, tz))
    first_text = first.isoformat() if first else ""
    last_text = last.isoformat() if last else ""
    exports.record_export(
        job,
        by=f"command line ({getpass.getuser()})",
        user_id=None,
        first=first_text,
        last=last_text,
    )
    total = exports.count(job) + 1  # and the header
    target = open(out, "w", encoding="utf-8", newline="") if out else sys.stdout  # noqa: SIM115
    try:
        with click.progressbar(length=total, label=f"Exporting {kind}", file=sys.stderr) as bar:
            for chunk in exports.csv_chunks(job, bom=bom, progress=bar.update):
                target.write(chunk)
    finally:
        if out:
            target.close()
    if out:
        click.echo(f"{total - 1} {kind} written to {out}.", err=True)
