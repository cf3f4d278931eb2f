"""R13 quiet hours and frequency: the recipient's window at its exact boundaries, Florida and
Oklahoma (20:00 and 3 per 24 h), Texas Sundays, several zones, VALIDITY_HOURS. Pure: no database."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from compliance import quiet
from compliance.policy import Policy

POLICY = Policy()
NY, LA, CHI = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"), ZoneInfo("America/Chicago")
NEW_YORK = quiet.Recipient(("America/New_York",))
FLORIDA = quiet.Recipient(("America/New_York",), "FL")
OKLAHOMA = quiet.Recipient(("America/Chicago",), "OK")
TEXAS = quiet.Recipient(("America/Chicago",), "TX")


def at(zone, *args):
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def check(recipient, now, *, deadline=None, recent=()):
    deadline = deadline or now + timedelta(hours=POLICY.VALIDITY_HOURS)
    return quiet.check(recipient, now=now, deadline=deadline, recent=list(recent), policy=POLICY)


@pytest.mark.parametrize(
    ("recipient", "local", "allowed"),
    [
        (NEW_YORK, (2026, 11, 23, 7, 59, 59), False),
        (NEW_YORK, (2026, 11, 23, 8, 0, 0), True),
        (NEW_YORK, (2026, 11, 23, 20, 59, 59), True),
        (NEW_YORK, (2026, 11, 23, 21, 0, 0), False),
        (FLORIDA, (2026, 11, 23, 19, 59, 59), True),
        (FLORIDA, (2026, 11, 23, 20, 0, 0), False),
        (OKLAHOMA, (2026, 11, 23, 20, 0, 0), False),
        (TEXAS, (2026, 11, 22, 11, 59, 59), False),  # a Sunday
        (TEXAS, (2026, 11, 22, 12, 0, 0), True),
        (TEXAS, (2026, 11, 21, 8, 0, 0), True),  # a Saturday
        (TEXAS, (2026, 11, 22, 20, 59, 59), True),
    ],
)
def test_r13_window_boundaries(recipient, local, allowed):
    zone = ZoneInfo(recipient.zones[0])
    assert check(recipient, at(zone, *local)).allowed is allowed


def test_r13_held_until_the_window_opens():
    decision = check(NEW_YORK, at(NY, 2026, 11, 23, 7, 0))
    assert (decision.allowed, decision.opens_at) == (False, at(NY, 2026, 11, 23, 8, 0))
    assert decision.reason == "Waiting for the recipient's sending hours (08:00–21:00 America/New_York)."
    sunday = check(TEXAS, at(CHI, 2026, 11, 22, 9, 0))
    assert sunday.opens_at == at(CHI, 2026, 11, 22, 12, 0)
    assert "Sundays from 12:00" in sunday.reason


def test_r13_over_validity_hours_fails_with_the_reason():
    # 21:30 in New York: the window opens at 08:00, 10.5 hours later (VALIDITY_HOURS is 10).
    now = at(NY, 2026, 11, 23, 21, 30)
    decision = check(NEW_YORK, now)
    assert (decision.allowed, decision.opens_at) == (False, None)
    assert decision.reason == (
        "Not sent: outside the recipient's sending hours (08:00–21:00 America/New_York) for more than 10 hours "
        "after it was due."
    )
    # 22:00, due at 22:00: exactly 10 hours is still within the validity.
    assert check(NEW_YORK, at(NY, 2026, 11, 23, 22, 0)).opens_at == at(NY, 2026, 11, 24, 8, 0)


def test_r13_a_number_with_several_zones_waits_for_all_of_them():
    both = quiet.Recipient(("America/New_York", "America/Los_Angeles"))
    # 08:30 in New York is 05:30 in Los Angeles: wait for 08:00 there (11:00 in New York).
    decision = check(both, at(NY, 2026, 11, 23, 8, 30))
    assert decision.opens_at == at(LA, 2026, 11, 23, 8, 0)
    # 20:30 in Los Angeles is 23:30 in New York: closed there until its 08:00, LA's 05:00 → LA's 08:00.
    assert quiet.next_open(at(LA, 2026, 11, 23, 20, 30), both, POLICY) == at(LA, 2026, 11, 24, 8, 0)


@pytest.mark.parametrize("recipient", [FLORIDA, OKLAHOMA])
def test_r13_at_most_three_per_24_hours_to_florida_and_oklahoma(recipient):
    zone = ZoneInfo(recipient.zones[0])
    now = at(zone, 2026, 11, 23, 15, 0)
    sent = [at(zone, 2026, 11, 23, 9, 0), at(zone, 2026, 11, 23, 10, 0), at(zone, 2026, 11, 23, 11, 0)]
    assert check(recipient, now, recent=sent[:2]).allowed
    held = check(recipient, now, recent=sent, deadline=now + timedelta(days=2))
    # Free again 24 h after the oldest of the three: 09:00 tomorrow, inside the window.
    assert (held.allowed, held.opens_at) == (False, at(zone, 2026, 11, 24, 9, 0))
    assert held.reason.startswith("Waiting: at most 3 such messages per 24 hours to a")
    assert check(recipient, now, recent=sent).opens_at is None  # later than VALIDITY_HOURS allows
    # New York has no such cap.
    assert check(NEW_YORK, at(NY, 2026, 11, 23, 15, 0), recent=sent).allowed


@pytest.mark.parametrize(
    ("number", "zones", "state"),
    [
        ("+13055550100", ("America/New_York",), "FL"),
        ("+14055550100", ("America/Chicago",), "OK"),
        ("+15125550100", ("America/Chicago",), "TX"),
        ("+12125550100", ("America/New_York",), ""),
        ("+14155550100", ("America/Los_Angeles",), ""),
    ],
)
def test_r13_zones_and_state_come_from_the_number(number, zones, state):
    assert quiet.number_facts(number) == (zones, state)


def test_r13_the_contacts_own_zone_wins_and_the_sub_accounts_is_the_last_resort():
    assert quiet.recipient_of("+12125550100", "America/Los_Angeles", "UTC").zones == ("America/Los_Angeles",)
    assert quiet.recipient_of("+13055550100", "America/Chicago", "UTC") == quiet.Recipient(("America/Chicago",), "FL")
    assert quiet.recipient_of("+80012345678", "", "Europe/Paris").zones == ("Europe/Paris",)
    # A toll-free number maps to every zone of the plan: the sub-account's zone stands in.
    assert quiet.recipient_of("+18005550100", "", "America/Chicago").zones == ("America/Chicago",)
    several = quiet.Recipient(tuple(f"Etc/GMT+{n}" for n in range(4, 9)))
    assert "in all 5 of its time zones" in quiet.describe(several, POLICY)
