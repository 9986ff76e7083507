"""Time zones a person chooses or a browser reports: IANA names zoneinfo knows, nothing
else, and a moment written in one of them with UTC beside it."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

# The regions of the IANA names people live under ("Europe/Paris"). Left out: "Etc/GMT+5"
# (whose sign is the reverse of what it reads), legacy aliases like "US/Eastern", "localtime".
REGIONS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# The longest IANA name is 32 characters; the column holds twice that.
MAX_NAME_LENGTH = 64
# How a moment is written, in a zone ("CET", "EST", or an offset like "+04" where the zone
# has no abbreviation) and in UTC.
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
UTC_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


@cache
def zone_names() -> tuple[str, ...]:
    """The zones one may choose, UTC first, then by name."""
    regional = (name for name in available_timezones() if name.split("/")[0] in REGIONS)
    return ("UTC", *sorted(regional))


@cache
def _known() -> frozenset[str]:
    return frozenset(zone_names())


def time_zone(name: str | None) -> ZoneInfo | None:
    """The zone of that name; None for anything else (a typo, a path, junk of any length)."""
    if not name or name not in _known():
        return None
    return ZoneInfo(name)


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(LOCAL_FORMAT)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(UTC_FORMAT)


def utc_iso(moment: datetime) -> str:
    """The moment in UTC as HTML's <time datetime> takes it: 2026-12-06T20:19:49Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
