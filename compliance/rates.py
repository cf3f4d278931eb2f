"""R8, error and opt-out rate monitoring: pure arithmetic on counts and `now` (no ORM, no
clock, no settings reads).

- Error rate = undelivered ÷ outbound SMS with a final carrier status (delivered or
  undelivered); opt-out rate = opt-outs received ÷ outbound SMS handed to the carrier. Both over
  the trailing window (RATE_WINDOW_HOURS, counted in whole hours: the current hour and the ones
  before it).
- Nothing happens below RATE_MIN_VOLUME: the error rate needs that many final statuses, the
  opt-out rate that many outbound messages (a rate over a handful of messages says nothing).
- Thresholds are inclusive (`≥`) and compared exactly, as fractions: 4 of 50 is 8 %, a violation.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction

from compliance.policy import Policy

NONE, VIOLATION, SUSPENSION = "none", "violation", "suspension"
ERROR_RATE, OPT_OUT_RATE = "error_rate", "opt_out_rate"


@dataclass(frozen=True)
class Counts:
    outbound: int = 0  # handed to the carrier (sent)
    finalized: int = 0  # with a final carrier status: delivered + undelivered
    undelivered: int = 0
    opt_outs: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(
            self.outbound + other.outbound,
            self.finalized + other.finalized,
            self.undelivered + other.undelivered,
            self.opt_outs + other.opt_outs,
        )


def error_rate(counts: Counts) -> Fraction | None:
    return Fraction(counts.undelivered, counts.finalized) if counts.finalized else None


def opt_out_rate(counts: Counts) -> Fraction | None:
    return Fraction(counts.opt_outs, counts.outbound) if counts.outbound else None


def _at_least(rate: Fraction | None, threshold: float) -> bool:
    # The threshold as written (0.125 → 1/8, 0.08 → 2/25), not its binary approximation.
    return rate is not None and rate >= Fraction(str(threshold))


@dataclass(frozen=True)
class Verdict:
    level: str  # NONE | VIOLATION | SUSPENSION
    kind: str = ""  # ERROR_RATE | OPT_OUT_RATE: the rate that decided (the error rate first)
    error_rate: Fraction | None = None
    opt_out_rate: Fraction | None = None
    enough_volume: bool = False


def verdict(counts: Counts, policy: Policy) -> Verdict:
    """Which R8 measure applies to these trailing-window counts."""
    err = error_rate(counts) if counts.finalized >= policy.RATE_MIN_VOLUME else None
    opt = opt_out_rate(counts) if counts.outbound >= policy.RATE_MIN_VOLUME else None
    enough = err is not None or opt is not None
    for level, err_limit, opt_limit in (
        (SUSPENSION, policy.ERROR_RATE_SUSPENSION, policy.OPT_OUT_RATE_SUSPENSION),
        (VIOLATION, policy.ERROR_RATE_VIOLATION, policy.OPT_OUT_RATE_VIOLATION),
    ):
        if _at_least(err, err_limit):
            return Verdict(level, ERROR_RATE, err, opt, enough)
        if _at_least(opt, opt_limit):
            return Verdict(level, OPT_OUT_RATE, err, opt, enough)
    return Verdict(NONE, "", err, opt, enough)


def window_hours(now: datetime, policy: Policy) -> tuple[datetime, datetime]:
    """The hour buckets the trailing window covers: [first, last] inclusive, both whole hours."""
    last = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return last - timedelta(hours=policy.RATE_WINDOW_HOURS - 1), last


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def next_hour(moment: datetime) -> datetime:
    """The first whole hour at or after `moment` (counters are hourly: an hour that began before
    `moment` holds counts from before it)."""
    start = hour_of(moment)
    return start if start == moment else start + timedelta(hours=1)


def suspension_end(now: datetime, policy: Policy) -> datetime:
    """R8: a temporary suspension lasts until the next 00:00 UTC (`midnight_utc`), or 24 hours
    (`24h`). At 23:59:59 it ends one second later; at 00:00:00 it lasts the whole day."""
    if policy.SUSPENSION_ENDS == "24h":
        return now + timedelta(hours=24)
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=UTC)


def risk(counts: Counts, policy: Policy) -> float:
    """How close to a suspension, 0 (nothing measured) … 1 (at a suspension threshold) and
    beyond: the larger of the two rates as a share of its suspension threshold. Support staff
    see sub-accounts sorted by this, closest first."""
    shares = []
    if counts.finalized:
        shares.append(float(error_rate(counts)) / policy.ERROR_RATE_SUSPENSION)
    if counts.outbound:
        shares.append(float(opt_out_rate(counts)) / policy.OPT_OUT_RATE_SUSPENSION)
    return max(shares, default=0.0)


def band(rate: Fraction | float | None, *, healthy: float, violation: float, suspension: float) -> str:
    """The band a rate is in, for the dashboard: healthy, watch (above healthy, below a
    violation), violation, suspension; "" when nothing is measured."""
    if rate is None:
        return ""
    if _at_least(Fraction(rate), suspension):
        return "suspension"
    if _at_least(Fraction(rate), violation):
        return "violation"
    return "healthy" if rate <= Fraction(str(healthy)) else "watch"


def percent(rate: Fraction | float | None) -> str:
    """12.5 %, 8 %, 0.3 %: at most two decimals, no trailing zeros; "—" when not measured."""
    if rate is None:
        return "—"
    text = f"{float(rate) * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"
