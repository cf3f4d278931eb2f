"""What a step means as plain values (no database): when a wait ends, a contact's zone, texts."""

from datetime import UTC, datetime, time

import pytest

from messaging.automations import steps


def test_a_time_of_day_later_today_or_else_tomorrow_in_the_zone():
    now = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 12:00 in New York
    assert steps.next_time_of_day(now, time(13, 0), "America/New_York") == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert steps.next_time_of_day(now, time(12, 0), "America/New_York") == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert steps.next_time_of_day(now, time(9, 0), "America/Los_Angeles") == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)


def test_a_time_the_clock_skips_comes_an_hour_later():
    # 2026-03-08: New York springs forward at 02:00 → 03:00; 02:30 does not exist that night.
    now = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    assert steps.next_time_of_day(now, time(2, 30), "America/New_York") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_a_duration_wait_needs_no_zone():
    now = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert steps.wait_ends(now, minutes=90, until=None, zone="") == datetime(2026, 3, 2, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "own", "expected"),
    [("+12125550100", "", "America/New_York"), ("+13105550100", "", "America/Los_Angeles"),
     ("+12125550100", "Europe/Berlin", "Europe/Berlin"), ("+18005550100", "", "America/Chicago")],
)  # fmt: skip
def test_the_contacts_zone_is_theirs_else_the_numbers_else_the_sub_accounts(phone, own, expected):
    assert steps.contact_zone(phone, own, "America/Chicago") == expected


@pytest.mark.parametrize(
    ("minutes", "text"), [(1, "1 minute"), (90, "90 minutes"), (60, "1 hour"), (120, "2 hours"), (1440, "1 day")]
)
def test_durations_read_as_people_write_them(minutes, text):
    assert steps.duration_text(minutes) == text
    assert steps.offset_text(-minutes) == f"{text} before" and steps.offset_text(minutes) == f"{text} after"
