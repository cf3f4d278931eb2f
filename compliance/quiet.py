"""R13, quiet hours and frequency (TCPA and the state "mini-TCPA" laws carriers' toolkits
enforce): pure functions of the recipient's zones and state, the recent sends and `now` (no ORM,
no clock, no settings reads).

- Bulk, campaign and workflow messages are handed to the carrier only between 08:00 and 21:00
  in the recipient's local time: the contact's own time zone when known, else the zone(s) of the
  number; a number that maps to several zones only while the window is open in all of them.
- Florida and Oklahoma numbers: 08:00–20:00, and at most 3 such messages per contact per 24 h.
  Texas numbers: not before 12:00 on Sundays.
- A message outside the window waits for it to open; one that would wait longer than
  VALIDITY_HOURS past when it was due fails with that reason.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from compliance.policy import Policy

FREQUENCY_STATES = {"FL": "Florida", "OK": "Oklahoma"}
STATE_NAMES = {"Florida": "FL", "Oklahoma": "OK", "Texas": "TX"}
SUNDAY = 6
SEARCH_DAYS = 8  # a window opens within a week in every zone; give up (never open) after that


@dataclass(frozen=True)
class Recipient:
    zones: tuple[str, ...]  # IANA names; the contact's own zone, else the number's
    state: str = ""  # "FL", "OK", "TX" or "" (from the number's area code)


@dataclass(frozen=True)
class QuietDecision:
    allowed: bool
    opens_at: datetime | None = None  # when it may go, if not now (None: not within a week)
    reason: str = ""  # why it is held, in words a user understands


def window(local_day: datetime, state: str, policy: Policy) -> tuple[time, time]:
    """The sending window on the recipient's local calendar day (start inclusive, end exclusive)."""
    start, end = time(policy.QUIET_START_HOUR), time(policy.QUIET_END_HOUR)
    if state in FREQUENCY_STATES:
        end = time(policy.QUIET_END_HOUR_FL_OK)
    if state == "TX" and local_day.weekday() == SUNDAY:
        start = time(policy.QUIET_SUNDAY_START_HOUR_TX)
    return start, end


def is_open(at: datetime, zone: str, state: str, policy: Policy) -> bool:
    local = at.astimezone(ZoneInfo(zone))
    start, end = window(local, state, policy)
    return start <= local.time() < end


def next_open_in_zone(at: datetime, zone: str, state: str, policy: Policy) -> datetime:
    """The first moment at or after `at` when the window is open in `zone`."""
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    for day in range(SEARCH_DAYS):
        date = (local + timedelta(days=day)).date()
        start, end = window(datetime.combine(date, time(12), tzinfo=tz), state, policy)
        opens = datetime.combine(date, start, tzinfo=tz)
        closes = datetime.combine(date, end, tzinfo=tz)
        if day == 0 and opens <= local < closes:
            return at
        if opens > local:
            return opens
    raise ValueError(f"no sending window in {zone} within {SEARCH_DAYS} days")


def next_open(at: datetime, recipient: Recipient, policy: Policy) -> datetime | None:
    """The first moment at or after `at` when the window is open in every zone, or None."""
    candidate = at
    for _ in range(SEARCH_DAYS * 4 * max(1, len(recipient.zones))):
        later = max(next_open_in_zone(candidate, z, recipient.state, policy) for z in recipient.zones)
        if later == candidate:
            return candidate.astimezone(UTC)
        candidate = later
        if candidate - at > timedelta(days=SEARCH_DAYS):
            break
    return None


def deadline_of(due: datetime, policy: Policy) -> datetime:
    """A message due at `due` may wait for the window until this moment (VALIDITY_HOURS)."""
    return due + timedelta(hours=policy.VALIDITY_HOURS)


def check(recipient: Recipient, *, now: datetime, deadline: datetime, recent: list[datetime], policy: Policy):
    """May a quiet-hours message go to this recipient now? `deadline`: the latest it may still
    go (`deadline_of` when it was due); `recent`: the times of such messages handed to the
    carrier for this contact in the last 24 h (the FL/OK frequency cap)."""
    opens = next_open(now, recipient, policy)
    waiting = f"Waiting for the recipient's sending hours ({describe(recipient, policy)})."
    too_late = (
        f"Not sent: outside the recipient's sending hours ({describe(recipient, policy)}) for more than "
        f"{policy.VALIDITY_HOURS} hours after it was due."
    )
    if recipient.state in FREQUENCY_STATES:
        sent = sorted(t for t in recent if t > now - timedelta(hours=24))
        cap = policy.QUIET_FREQUENCY_CAP_FL_OK
        if len(sent) >= cap:
            free_at = sent[-cap] + timedelta(hours=24)
            opens = next_open(free_at, recipient, policy) if opens is not None else None
            state = FREQUENCY_STATES[recipient.state]
            waiting = f"Waiting: at most {cap} such messages per 24 hours to a {state} number."
            too_late = (
                f"Not sent: {cap} such messages already went to this {state} number in the last 24 hours, and it "
                f"could not wait more than {policy.VALIDITY_HOURS} hours after it was due."
            )
    if opens == now:
        return QuietDecision(True)
    if opens is None or opens > deadline:
        return QuietDecision(False, None, too_late)
    return QuietDecision(False, opens, waiting)


def describe(recipient: Recipient, policy: Policy) -> str:
    zones = (
        ", ".join(recipient.zones) if len(recipient.zones) <= 3 else f"in all {len(recipient.zones)} of its time zones"
    )
    end = policy.QUIET_END_HOUR_FL_OK if recipient.state in FREQUENCY_STATES else policy.QUIET_END_HOUR
    text = f"{policy.QUIET_START_HOUR:02d}:00–{end:02d}:00 {zones}"
    if recipient.state == "TX":
        text += f", Sundays from {policy.QUIET_SUNDAY_START_HOUR_TX:02d}:00"
    return text


@lru_cache(maxsize=100_000)
def number_facts(e164: str) -> tuple[tuple[str, ...], str]:
    """(time zones, state) of a number from `phonenumbers`' data: the zones of its area code,
    and FL/OK/TX when the area code is in one of those states ("" otherwise or unknown)."""
    # Imported on first use: geocoder and timezone load their data tables (~0.5 s) when
    # imported, which every process that never asks about a number would pay at start-up.
    import phonenumbers
    from phonenumbers import geocoder
    from phonenumbers import timezone as number_timezone

    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return (), ""
    zones = tuple(z for z in number_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")
    state = ""
    if parsed.country_code == 1:
        place = geocoder.description_for_number(parsed, "en")
        abbreviation = place.rsplit(", ", 1)[-1] if ", " in place else ""
        state = STATE_NAMES.get(place, abbreviation if abbreviation in STATE_NAMES.values() else "")
    return zones, state


NON_GEOGRAPHIC_ZONES = 6  # more zones than the continental US has: a toll-free or similar number


def recipient_of(e164: str, contact_zone: str, fallback_zone: str) -> Recipient:
    """The contact's own zone when known, else the number's zone(s), else the sub-account's.
    A non-geographic number (toll-free: `phonenumbers` gives every zone of the plan, from
    Pago Pago to Guam, never open all at once) says nothing about where its owner is: the
    sub-account's zone stands in for it."""
    zones, state = number_facts(e164)
    if contact_zone:
        zones = (contact_zone,)
    elif len(zones) > NON_GEOGRAPHIC_ZONES:
        zones = ()
    return Recipient(zones=zones or (fallback_zone,), state=state)
