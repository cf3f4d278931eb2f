"""What a step means, as plain values: when a wait ends, in which zone a contact's time of day is,
and how a step reads on the pages. No ORM, no clock: `now` is a parameter."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from compliance import quiet

UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}


def contact_zone(phone: str, contact_zone: str, sub_account_zone: str) -> str:
    """The contact's own zone; else the number's, when it has exactly one (R13's data); else the
    sub-account's."""
    zones = quiet.recipient_of(phone, contact_zone, sub_account_zone).zones
    return zones[0] if len(zones) == 1 else sub_account_zone


def next_time_of_day(now: datetime, at: time, zone: str) -> datetime:
    """The first moment after `now` that reads `at` on the clock in `zone` (tomorrow if it has
    passed today). A time the clock skips that day (spring forward) comes an hour later."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    for day in range(3):
        candidate = datetime.combine(local.date() + timedelta(days=day), at, tzinfo=tz)
        # Round-trip through UTC: a time in the spring-forward gap becomes the real time after it.
        candidate = candidate.astimezone(ZoneInfo("UTC")).astimezone(tz)
        if candidate > local:
            return candidate.astimezone(ZoneInfo("UTC"))
    raise ValueError(f"no {at} in {zone} after {now}")  # unreachable: every day has the time or the hour after


def wait_ends(now: datetime, *, minutes: int | None, until: time | None, zone: str) -> datetime:
    if minutes is not None:
        return now + timedelta(minutes=minutes)
    return next_time_of_day(now, until, zone)


def duration_text(minutes: int) -> str:
    for unit, size in (("day", 24 * 60), ("hour", 60)):
        if minutes % size == 0:
            n = minutes // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def offset_text(minutes: int) -> str:
    if minutes == 0:
        return "at"
    return f"{duration_text(abs(minutes))} {'before' if minutes < 0 else 'after'}"


def describe(step) -> str:
    """One line per step, as the builder and the logs show it."""
    kind = step.kind
    if kind == "send_sms":
        return f"Send SMS: {step.body}"
    if kind == "wait":
        if step.wait_minutes is not None:
            return f"Wait {duration_text(step.wait_minutes)}"
        return f"Wait until {step.wait_until:%H:%M} (the contact's time)"
    if kind in ("add_tag", "remove_tag"):
        name = step.tag.name if step.tag_id else "(deleted tag)"
        return f"{'Add' if kind == 'add_tag' else 'Remove'} tag “{name}”"
    return "Stop if the contact replied"
