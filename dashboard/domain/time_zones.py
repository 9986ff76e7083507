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


def time_element(moment: datetime, zone: ZoneInfo) -> str:
    """`<time datetime="…Z" title="… UTC">` around the moment in `zone`: HTML, of digits and
    the zone database's abbreviation only (nothing a person typed). One conversion to UTC
    serves both of its UTC forms; a page writes hundreds."""
    utc = moment.astimezone(UTC)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    in_utc = f"{iso[:10]} {iso[11:19]} UTC"
    local = in_utc if zone.key == "UTC" else utc.astimezone(zone).strftime(LOCAL_FORMAT)
    return f'<time datetime="{iso}" title="{in_utc}">{local}</time>'
