"""One rule for every time a user reads: the sub-account's zone with its abbreviation; UTC next to
it only where the policy is defined in UTC (R8: a temporary suspension ends at 00:00 UTC)."""

from datetime import UTC, date, datetime

from compliance import times

NY = "America/New_York"
DEC_3_MIDNIGHT = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


def test_local_is_the_zone_with_its_abbreviation():
    at = datetime(2026, 12, 2, 12, 24, tzinfo=UTC)
    assert times.local(at, NY) == "Dec 2, 2026, 7:24 AM EST"
    assert times.local_short(at, NY) == "Dec 2, 7:24 AM EST"
    assert times.time_of(at, NY) == "7:24 AM EST"
    assert times.day_of(at, NY) == "Dec 2, 2026"


def test_summer_time_and_the_day_in_the_zone():
    at = datetime(2026, 7, 1, 3, 5, tzinfo=UTC)  # still June 30 in New York, daylight time
    assert times.local(at, NY) == "Jun 30, 2026, 11:05 PM EDT"
    assert times.local(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), NY) == "Jul 1, 2026, 8:00 AM EDT"
    assert times.local(datetime(2026, 7, 1, 16, 0, tzinfo=UTC), "America/Los_Angeles") == "Jul 1, 2026, 9:00 AM PDT"


def test_suspension_end_says_both():  # R8: "until the next 00:00 UTC"
    assert times.utc_and_local(DEC_3_MIDNIGHT, NY) == "Dec 2, 2026, 7:00 PM EST (00:00 UTC)"
    assert times.utc_and_local(DEC_3_MIDNIGHT, "Asia/Tokyo") == "Dec 3, 2026, 9:00 AM JST (00:00 UTC)"
    assert times.utc_and_local(DEC_3_MIDNIGHT, "UTC") == "Dec 3, 2026, 12:00 AM UTC"


def test_noon_midnight_naive_unknown_zone_and_dates():
    assert times.time_of(datetime(2026, 12, 2, 17, 0, tzinfo=UTC), NY) == "12:00 PM EST"
    assert times.time_of(datetime(2026, 12, 2, 5, 0, tzinfo=UTC), NY) == "12:00 AM EST"
    assert times.local(datetime(2026, 12, 2, 12, 0), NY) == "Dec 2, 2026, 7:00 AM EST"  # naive: UTC
    assert times.local(DEC_3_MIDNIGHT, "Not/AZone") == "Dec 3, 2026, 12:00 AM UTC"
    assert times.day_of(date(2026, 12, 2)) == "Dec 2, 2026"
