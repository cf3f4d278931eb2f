"""How a moment is shown to a user, everywhere (pages, emails, reasons stored on messages): in
the sub-account's time zone with its abbreviation — `Dec 2, 2026, 7:24 AM EST`. UTC appears only
where the policy itself is defined in UTC (R8: a temporary suspension ends at the next 00:00 UTC),
and then next to the local time: `Dec 2, 2026, 7:00 PM EST (00:00 UTC)`.

Pure: plain datetimes and zone names in, text out (no ORM, no settings, no clock). The template
filters are `compliance.templatetags.times`."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> ZoneInfo:
    """The zone called `name`; UTC for an empty or unknown name (never an error on a page)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_zone(moment: datetime, name: str | None) -> datetime:
    """`moment` (aware; a naive one is taken as UTC) in the zone called `name`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(name))


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def time_of(moment: datetime, name: str | None) -> str:
    """`7:24 AM EST`."""
    at = in_zone(moment, name)
    return f"{_clock(at)} {at.tzname()}"


def day_of(moment: datetime | date, name: str | None = None) -> str:
    """`Dec 2, 2026` — the day in the zone (a `date` is shown as it is)."""
    at = in_zone(moment, name) if isinstance(moment, datetime) else moment
    return f"{at:%b} {at.day}, {at.year}"


def local(moment: datetime, name: str | None) -> str:
    """`Dec 2, 2026, 7:24 AM EST`."""
    return f"{day_of(moment, name)}, {time_of(moment, name)}"


def local_short(moment: datetime, name: str | None) -> str:
    """`Dec 2, 7:24 AM EST` — for lists and threads, where the year is noise."""
    at = in_zone(moment, name)
    return f"{at:%b} {at.day}, {time_of(moment, name)}"


def utc_and_local(moment: datetime, name: str | None) -> str:
    """`Dec 2, 2026, 7:00 PM EST (00:00 UTC)` — for the moments the policy defines in UTC (the
    local time says the day; the UTC clock shows why it is that odd hour)."""
    if in_zone(moment, name).tzname() == "UTC":
        return local(moment, "UTC")
    return f"{local(moment, name)} ({in_zone(moment, 'UTC'):%H:%M} UTC)"
