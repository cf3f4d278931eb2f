"""R7 ramp arithmetic: pure functions of the stored state and `now`, walked at exact boundaries."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from compliance import ramp
from compliance.policy import Policy

POLICY = Policy()
T0 = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
DAY = timedelta(hours=24)
SECOND = timedelta(seconds=1)
LIMITS = [100, 250, 500, 750, 1500, 2250, 3000, 5000]


def test_the_eight_levels():
    assert [ramp.limit_of(ramp.Ramp(level=n), POLICY) for n in range(1, 9)] == LIMITS


def test_ramp_starts_with_the_first_send_at_level_1():
    state, granted = ramp.reserve(ramp.Ramp(), 1, T0, POLICY)
    assert (granted, state.level, state.started_at, state.window_start, state.window_count) == (1, 1, T0, T0, 1)


def test_walk_from_first_send_to_level_8():
    """Each level's exact limit; the 24-hour restriction starts the moment the limit is reached;
    when it ends, the next level is unlocked."""
    state, now = ramp.Ramp(), T0
    for level, limit in enumerate(LIMITS[:-1], start=1):
        state, granted = ramp.reserve(state, limit - 1, now, POLICY)  # limit − 1 does not advance
        assert (granted, state.level, state.restricted_until) == (limit - 1, level, None)
        reached = now + timedelta(hours=3)
        state, granted = ramp.reserve(state, 5, reached, POLICY)  # only 1 more fits
        assert granted == 1 and state.window_count == limit
        assert state.restricted_until == reached + DAY
        # restricted from sending any SMS for the next 24 hours, to the second
        assert ramp.reserve(state, 1, reached + DAY - SECOND, POLICY)[1] == 0
        now = reached + DAY
        assert ramp.roll_forward(state, now, POLICY).level == level + 1
    state = ramp.roll_forward(state, now, POLICY)
    assert state.level == 8 and ramp.limit_of(state, POLICY) == 5000


def test_a_window_that_ends_short_keeps_the_level():
    state, _ = ramp.reserve(ramp.Ramp(), 99, T0, POLICY)
    assert ramp.roll_forward(state, T0 + DAY - SECOND, POLICY).window_count == 99
    later = ramp.roll_forward(state, T0 + DAY, POLICY)
    assert (later.level, later.window_start, later.window_count) == (1, None, 0)
    # the next window opens with the next send, at the same level
    state, granted = ramp.reserve(state, 100, T0 + DAY + timedelta(hours=5), POLICY)
    assert (granted, state.level, state.window_start) == (100, 1, T0 + DAY + timedelta(hours=5))


def test_level_8_refreshes_each_window_and_never_restricts():
    state, granted = ramp.reserve(ramp.Ramp(level=8), 6000, T0, POLICY)
    assert (granted, state.restricted_until) == (5000, None)
    assert ramp.reserve(state, 1, T0 + DAY - SECOND, POLICY)[1] == 0
    assert ramp.reserve(state, 1, T0 + DAY, POLICY)[1] == 1


def test_level_8_extension_raises_the_limit():
    state, granted = ramp.reserve(ramp.Ramp(level=8, extension=8000), 9000, T0, POLICY)
    assert granted == 8000


def test_release_gives_back_capacity_of_the_open_window_only():
    state, _ = ramp.reserve(ramp.Ramp(), 50, T0, POLICY)
    assert ramp.release(state, 10, T0, T0 + SECOND, POLICY).window_count == 40
    assert ramp.release(state, 10, T0 - DAY, T0 + SECOND, POLICY).window_count == 50  # an older window


def test_a_window_whose_messages_all_failed_before_the_carrier_never_opened():
    """R7: the ramp starts, and a window opens, with the first successfully sent SMS."""
    state, _ = ramp.reserve(ramp.Ramp(), 1, T0, POLICY)
    assert ramp.release(state, 1, T0, T0 + SECOND, POLICY) == ramp.Ramp()
    # A later window of a started ramp closes the same way but keeps when the ramp started.
    later, _ = ramp.reserve(replace(state, window_start=None, window_count=0), 3, T0 + 2 * DAY, POLICY)
    released = ramp.release(later, 3, T0 + 2 * DAY, T0 + 2 * DAY + SECOND, POLICY)
    assert (released.window_start, released.window_count, released.started_at) == (None, 0, T0)


def test_bulk_sentence():
    state, _ = ramp.reserve(ramp.Ramp(), 30, T0, POLICY)
    assert ramp.bulk_sentence(state, 70, T0, POLICY) == ""
    assert ramp.bulk_sentence(state, 90, T0, POLICY) == (
        "You are allowed to send 100 message(s) in a day. You have already sent 30 message(s). "
        "If you wish to proceed, 20 Message(s) will be failed."
    )


def test_bulk_sentence_during_restriction_fails_everything():
    state, _ = ramp.reserve(ramp.Ramp(), 100, T0, POLICY)
    assert ramp.bulk_sentence(state, 5, T0 + SECOND, POLICY).endswith(
        "If you wish to proceed, 5 Message(s) will be failed."
    )


@pytest.mark.parametrize(
    ("state", "now", "headline"),
    [
        (ramp.Ramp(), T0, "Unlock Level 2 by sending 100 messages within 24 hours of your next send"),
        (ramp.Ramp(window_start=T0, window_count=40), T0,
         "Unlock Level 2 by sending 100 messages by Mar 03, 2026 15:30 UTC"),
        (ramp.Ramp(level=3, window_start=T0, window_count=500, restricted_until=T0 + DAY), T0,
         "Sending is paused: the Level 3 limit was reached. Level 4 unlocks at Mar 03, 2026 15:30 UTC."),
        (ramp.Ramp(level=8), T0, "Top level: up to 5000 messages per 24 hours."),
    ],
)  # fmt: skip
def test_card_headline(state, now, headline):
    card = ramp.card(state, now, POLICY)
    assert card.headline == headline
    assert card.levels == tuple(LIMITS)


def test_giving_back_capacity_below_the_limit_lifts_a_restriction_nothing_earned():
    """R7: the restriction comes from sending the full limit; messages that never reached the
    carrier did not earn it."""
    full, _ = ramp.reserve(ramp.Ramp(), 100, T0, POLICY)
    assert full.restricted_until == T0 + DAY
    back = ramp.release(full, 100, T0, T0 + SECOND, POLICY)
    assert (back.restricted_until, back.window_count, back.window_start) == (None, 0, None)
    assert ramp.release(full, 1, T0, T0 + SECOND, POLICY).restricted_until is None
