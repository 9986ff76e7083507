"""Lengths of time on the command line: `90s`, `15m`, `12h`, `7d`, `1d12h`."""

from __future__ import annotations

import re
from datetime import timedelta

import click


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
            self.fail(f"{value!r} is more than {span(self.at_most)}{self.why}.", param, ctx)
        return duration


def span(duration: timedelta) -> str:
    """A duration as the options take it: 30d, 1h, 1d12h, 0s."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
