"""R8 arithmetic: rates, the exact (inclusive) thresholds, RATE_MIN_VOLUME, the suspension end
at 00:00 UTC, risk and bands. Pure functions: no database."""

from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction

import pytest

from compliance import rates
from compliance.policy import Policy
from compliance.rates import Counts

POLICY = Policy()


def err(undelivered, finalized):
    return Counts(outbound=finalized, finalized=finalized, undelivered=undelivered)


def opt(opt_outs, outbound):
    return Counts(outbound=outbound, opt_outs=opt_outs)


@pytest.mark.parametrize(
    ("counts", "level", "kind"),
    [
        # Below RATE_MIN_VOLUME (50) nothing happens, however bad the rate.
        (err(49, 49), "none", ""),
        (opt(40, 49), "none", ""),
        # Error rate: healthy, just below 8 %, exactly 8 %, just below 12.5 %, exactly 12.5 %.
        (err(3, 50), "none", ""),
        (err(4, 51), "none", ""),  # 7.84 %
        (err(4, 50), "violation", "error_rate"),  # exactly 8 %
        (err(7, 57), "violation", "error_rate"),  # 12.28 %
        (err(8, 64), "suspension", "error_rate"),  # exactly 12.5 %
        (err(50, 50), "suspension", "error_rate"),
        # Opt-out rate: just below 1 %, exactly 1 %, just below 2.5 %, exactly 2.5 %.
        (opt(1, 101), "none", ""),
        (opt(1, 100), "violation", "opt_out_rate"),
        (opt(4, 161), "violation", "opt_out_rate"),  # 2.48 %
        (opt(5, 200), "suspension", "opt_out_rate"),
        # The error rate needs 50 final statuses, even when 50 were sent.
        (Counts(outbound=60, finalized=49, undelivered=49), "none", ""),
        # Both over: the suspension wins over the violation; at the same level the error rate is named.
        (Counts(outbound=100, finalized=100, undelivered=8, opt_outs=3), "suspension", "opt_out_rate"),
        (Counts(outbound=100, finalized=100, undelivered=13, opt_outs=3), "suspension", "error_rate"),
    ],
)
def test_r8_verdict(counts, level, kind):
    verdict = rates.verdict(counts, POLICY)
    assert (verdict.level, verdict.kind) == (level, kind)


def test_r8_min_volume_is_a_policy_setting():
    policy = replace(POLICY, RATE_MIN_VOLUME=100)
    assert rates.verdict(err(8, 64), policy).level == "none"
    assert rates.verdict(err(13, 100), policy).level == "suspension"


def test_rates_with_nothing_sent_are_not_measured():
    assert rates.error_rate(Counts()) is None and rates.opt_out_rate(Counts()) is None
    assert rates.verdict(Counts(), POLICY).enough_volume is False


def test_counts_add():
    assert Counts(1, 2, 3, 4) + Counts(10, 20, 30, 40) == Counts(11, 22, 33, 44)


@pytest.mark.parametrize(
    ("now", "end"),
    [
        (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)),
        (datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)),
        (datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)),
        (datetime(2026, 12, 31, 22, 0, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_r8_suspension_ends_at_the_next_midnight_utc(now, end):
    assert rates.suspension_end(now, POLICY) == end


def test_r8_suspension_end_alternative_24h():
    now = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    assert rates.suspension_end(now, replace(POLICY, SUSPENSION_ENDS="24h")) == datetime(
        2026, 11, 24, 23, 59, 59, tzinfo=UTC
    )


def test_r8_window_is_the_current_hour_and_the_23_before():
    first, last = rates.window_hours(datetime(2026, 11, 23, 15, 42, 7, tzinfo=UTC), POLICY)
    assert (first, last) == (datetime(2026, 11, 22, 16, tzinfo=UTC), datetime(2026, 11, 23, 15, tzinfo=UTC))


def test_risk_orders_by_the_closest_threshold():
    calm, warm, hot = err(1, 100), opt(2, 100), err(12, 100)
    assert sorted([hot, calm, warm], key=lambda c: -rates.risk(c, POLICY)) == [hot, warm, calm]
    assert rates.risk(err(8, 64), POLICY) == pytest.approx(1.0)
    assert rates.risk(Counts(), POLICY) == 0.0


@pytest.mark.parametrize(
    ("rate", "band"),
    [(None, ""), (Fraction(0), "healthy"), (Fraction(6, 100), "healthy"), (Fraction(7, 100), "watch"),
     (Fraction(8, 100), "violation"), (Fraction(1, 8), "suspension")],
)  # fmt: skip
def test_error_rate_bands(rate, band):
    assert rates.band(rate, healthy=0.06, violation=0.08, suspension=0.125) == band


@pytest.mark.parametrize(
    ("rate", "text"), [(None, "—"), (Fraction(1, 8), "12.5 %"), (Fraction(2, 25), "8 %"), (Fraction(3, 1000), "0.3 %")]
)
def test_percent(rate, text):
    assert rates.percent(rate) == text
