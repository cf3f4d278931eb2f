"""R7, the 8-level ramp of the daily sending limit: pure arithmetic on the stored state and
`now` (no ORM, no clock). Nothing depends on a job running at the right time: every read first
rolls the state forward to `now`.

- The ramp starts with the first send, at level 1.
- A 24-hour window opens with the first send after the previous window closed.
- Sending the level's full limit inside a window restricts the sub-account from sending any
  SMS for 24 hours from that moment; when that ends, the next level is unlocked.
- A window that ends below the limit: the next window starts at the same level.
- Level 8 is the last: its limit (or a support-granted extension) refreshes each window and
  never restricts beyond that.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from compliance.policy import Policy

EXCEEDED = "You have exceeded your SMS sending limit."
BULK_SENTENCE = (
    "You are allowed to send {limit} message(s) in a day. You have already sent {sent} message(s). "
    "If you wish to proceed, {failed} Message(s) will be failed."
)


@dataclass(frozen=True)
class Ramp:
    level: int = 1
    started_at: datetime | None = None
    window_start: datetime | None = None
    window_count: int = 0
    restricted_until: datetime | None = None
    extension: int | None = None  # support-granted limit above the level-8 limit


def limit_of(ramp: Ramp, policy: Policy) -> int:
    top = len(policy.RAMP_LIMITS)
    if ramp.level == top and ramp.extension:
        return max(ramp.extension, policy.ramp_limit(top))
    return policy.ramp_limit(ramp.level)


def roll_forward(ramp: Ramp, now: datetime, policy: Policy) -> Ramp:
    """The state as it stands at `now`: an ended restriction unlocks the next level, an ended
    window closes."""
    window = timedelta(hours=policy.RAMP_WINDOW_HOURS)
    if ramp.restricted_until is not None and now >= ramp.restricted_until:
        ramp = replace(
            ramp,
            level=min(ramp.level + 1, len(policy.RAMP_LIMITS)),
            restricted_until=None,
            window_start=None,
            window_count=0,
        )
    if ramp.window_start is not None and now >= ramp.window_start + window and ramp.restricted_until is None:
        ramp = replace(ramp, window_start=None, window_count=0)
    return ramp


def is_restricted(ramp: Ramp, now: datetime) -> bool:
    return ramp.restricted_until is not None and now < ramp.restricted_until


def reserve(ramp: Ramp, wanted: int, now: datetime, policy: Policy) -> tuple[Ramp, int]:
    """Take up to `wanted` sends from the current window. Returns the new state and how many
    were granted (0 during a restriction or when the window is full)."""
    ramp = roll_forward(ramp, now, policy)
    if wanted <= 0 or is_restricted(ramp, now):
        return ramp, 0
    if ramp.window_start is None:
        ramp = replace(ramp, window_start=now, window_count=0, started_at=ramp.started_at or now)
    limit = limit_of(ramp, policy)
    granted = max(0, min(wanted, limit - ramp.window_count))
    ramp = replace(ramp, window_count=ramp.window_count + granted)
    if granted and ramp.window_count >= limit and ramp.level < len(policy.RAMP_LIMITS):
        ramp = replace(ramp, restricted_until=now + timedelta(hours=policy.RAMP_WINDOW_HOURS))
    return ramp, granted


def release(ramp: Ramp, count: int, window_start: datetime | None, now: datetime, policy: Policy) -> Ramp:
    """Give back capacity of messages that failed before reaching the carrier (or wait for the
    recipients' sending hours, R13), if they were reserved in the window still open. The
    restriction comes from *sending* the full limit: a window that falls back below it is not
    restricted (else a bulk send held overnight would restrict the sub-account and then fail)."""
    ramp = roll_forward(ramp, now, policy)
    if window_start is None or ramp.window_start != window_start:
        return ramp
    ramp = replace(ramp, window_count=max(0, ramp.window_count - count))
    if ramp.restricted_until is not None and ramp.window_count < limit_of(ramp, policy):
        ramp = replace(ramp, restricted_until=None)
    if ramp.window_count == 0 and ramp.restricted_until is None:
        # Nothing of this window reached the carrier: it never opened (a window opens, and the
        # ramp starts, with the first successfully sent SMS).
        first_window = ramp.started_at == ramp.window_start
        ramp = replace(ramp, window_start=None, started_at=None if first_window else ramp.started_at)
    return ramp


def bulk_sentence(ramp: Ramp, wanted: int, now: datetime, policy: Policy) -> str:
    """The preview shown before a bulk send that would cross the limit (R7), or "" if it fits."""
    ramp = roll_forward(ramp, now, policy)
    limit = limit_of(ramp, policy)
    sent = ramp.window_count
    available = 0 if is_restricted(ramp, now) else max(0, limit - sent)
    failed = max(0, wanted - available)
    if not failed:
        return ""
    return BULK_SENTENCE.format(limit=limit, sent=sent, failed=failed)


@dataclass(frozen=True)
class RampCard:
    level: int
    levels: tuple[int, ...]
    limit: int
    sent: int
    percent: int
    restricted_until: datetime | None
    window_ends: datetime | None
    headline: str


def card(ramp: Ramp, now: datetime, policy: Policy, fmt=lambda dt: dt.strftime("%b %d, %Y %H:%M UTC")) -> RampCard:
    """What the dashboard shows (R7): level, sent in this window, and what unlocks next."""
    ramp = roll_forward(ramp, now, policy)
    limit = limit_of(ramp, policy)
    window_ends = ramp.window_start + timedelta(hours=policy.RAMP_WINDOW_HOURS) if ramp.window_start else None
    top = len(policy.RAMP_LIMITS)
    if is_restricted(ramp, now):
        nxt = min(ramp.level + 1, top)
        headline = (
            f"Sending is paused: the Level {ramp.level} limit was reached. "
            f"Level {nxt} unlocks at {fmt(ramp.restricted_until)}."
        )
    elif ramp.level == top:
        headline = f"Top level: up to {limit} messages per 24 hours."
    elif window_ends:
        headline = f"Unlock Level {ramp.level + 1} by sending {limit} messages by {fmt(window_ends)}"
    else:
        headline = f"Unlock Level {ramp.level + 1} by sending {limit} messages within 24 hours of your next send"
    return RampCard(
        level=ramp.level,
        levels=policy.RAMP_LIMITS,
        limit=limit,
        sent=ramp.window_count,
        percent=min(100, round(100 * ramp.window_count / limit)) if limit else 0,
        restricted_until=ramp.restricted_until if is_restricted(ramp, now) else None,
        window_ends=window_ends,
        headline=headline,
    )
