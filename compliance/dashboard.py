"""R8/R9 on the pages: what the sub-account dashboard, the agency overview and the support risk
list show. Reads only — every function takes `now` and returns plain dataclasses the templates
render; the arithmetic is `compliance.rates`, the trailing-window counters `compliance.monitoring`.

Every read is a constant number of indexed queries, whatever the traffic: the rates come from
the hourly RateBucket counters (at most 24 rows per sub-account for the window, 720 for the
30-day charts), undelivered codes from the daily UndeliveredCode counters, and only the
"failed before the carrier" reasons read the message table (one grouped query, top 10).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from compliance import monitoring, rates, suspensions
from compliance.models import RateBucket, Suspension, UndeliveredCode, Violation
from compliance.policy import Policy, get_policy
from messaging.models import Message, Status

CHART_DAYS = 30
TOP_FAILURE_REASONS = 10
TIMELINE_ROWS = 20
RISK_LIST_ROWS = 500  # the support page shows the first ones

BAND_LABELS = {
    "healthy": "Healthy",
    "watch": "Above healthy",
    "violation": "At the violation level",
    "suspension": "At the suspension level",
}


# --- Rates now (trailing window) ------------------------------------------------------------


@dataclass(frozen=True)
class Gauge:
    """One rate over the trailing window, with its band and the policy's numbers beside it."""

    key: str  # "error" | "opt-out"
    name: str
    value: str  # rates.percent: "4.5 %", "—"
    band: str  # rates.band, "" when not measured or below RATE_MIN_VOLUME
    band_label: str
    thresholds: str  # "healthy 0–6 % · violation email at 8 % · suspension at 12.5 %"
    enough_volume: bool
    volume_note: str  # "" or "not enough volume yet (needs 50 …)"


def _thresholds(healthy, violation, suspension, good=None) -> str:
    good_text = f" (good up to {rates.percent(good)})" if good else ""
    return (
        f"healthy 0–{rates.percent(healthy).removesuffix(' %')} %{good_text} · "
        f"violation email at {rates.percent(violation)} · suspension at {rates.percent(suspension)}"
    )


def _gauge(key, name, rate, *, volume, needed, what, healthy, violation, suspension, good=None) -> Gauge:
    enough = volume >= needed
    band = rates.band(rate, healthy=healthy, violation=violation, suspension=suspension) if enough else ""
    label = BAND_LABELS.get(band, "")
    if band == "watch" and good and rate < Fraction(str(good)):
        label = "Good"
    note = "" if enough else f"not enough volume yet (needs {needed} {what} in 24 h; {volume} so far)"
    return Gauge(
        key=key, name=name, value=rates.percent(rate), band=band, band_label=label,
        thresholds=_thresholds(healthy, violation, suspension, good), enough_volume=enough, volume_note=note,
    )  # fmt: skip


def gauges(counts: rates.Counts, policy: Policy) -> tuple[Gauge, Gauge]:
    """(error rate, opt-out rate) as R8 measures them: each needs RATE_MIN_VOLUME of its own
    denominator (final carrier statuses; messages handed to the carrier) before it counts."""
    error = _gauge(
        "error", "Error rate", rates.error_rate(counts), volume=counts.finalized, needed=policy.RATE_MIN_VOLUME,
        what="messages with a carrier receipt", healthy=policy.ERROR_RATE_HEALTHY,
        violation=policy.ERROR_RATE_VIOLATION, suspension=policy.ERROR_RATE_SUSPENSION,
    )  # fmt: skip
    opt_out = _gauge(
        "opt-out", "Opt-out rate", rates.opt_out_rate(counts), volume=counts.outbound, needed=policy.RATE_MIN_VOLUME,
        what="messages sent", healthy=policy.OPT_OUT_RATE_HEALTHY, violation=policy.OPT_OUT_RATE_VIOLATION,
        suspension=policy.OPT_OUT_RATE_SUSPENSION, good=policy.OPT_OUT_RATE_GOOD,
    )  # fmt: skip
    return error, opt_out


# --- 30-day charts (inline SVG, server-rendered) --------------------------------------------

# The SVG's coordinate system; CSS scales it to the card's width.
WIDTH, HEIGHT = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 60, 628, 14, 196
# Upper ends of the y axis, as fractions: the smallest that holds the data and the thresholds.
Y_MAXIMA = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Day:
    """One UTC day's counters (RateBucket rows summed)."""

    day: date
    outbound: int = 0
    finalized: int = 0
    delivered: int = 0
    undelivered: int = 0
    opt_outs: int = 0


@dataclass(frozen=True)
class Point:
    day: date
    x: float
    y: float
    title: str  # the tooltip: "May 3: 4.5 % (9 of 200 with a carrier receipt)"


@dataclass(frozen=True)
class Mark:
    """A labelled position on an axis, or a threshold line across the plot (y)."""

    pos: float
    label: str
    band: str = ""
    anchor: str = "middle"  # SVG text-anchor of the label


@dataclass(frozen=True)
class Chart:
    title: str
    aria_label: str
    points: list[Point]
    segments: list[str]  # polyline "x,y x,y …" for each run of two or more consecutive days with traffic
    thresholds: list[Mark]
    healthy_y: float  # top of the healthy band
    y_ticks: list[Mark]
    x_ticks: list[Mark]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    top: int = TOP
    bottom: int = BOTTOM

    @property
    def healthy_height(self) -> float:
        return round(self.bottom - self.healthy_y, 1)

    @property
    def plot_width(self) -> int:
        return self.right - self.left


def chart_days(now: datetime) -> list[date]:
    """The chart's UTC days, oldest first: today and the 29 before it."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]


def daily_counts(sub_account, now: datetime) -> list[Day]:
    """One aggregate query over the sub-account's hourly buckets (unique index on
    (sub_account, hour)), grouped by UTC day; days without traffic are zeros."""
    days = chart_days(now)
    start = datetime.combine(days[0], time(0), tzinfo=UTC)
    rows = (
        RateBucket.objects.filter(sub_account=sub_account, hour__gte=start)
        .annotate(d=TruncDate("hour", tzinfo=UTC))
        .values("d")
        .annotate(
            outbound=Sum("outbound"),
            finalized=Sum("finalized"),
            delivered=Sum("delivered"),
            undelivered=Sum("undelivered"),
            opt_outs=Sum("opt_outs"),
        )  # fmt: skip
        .order_by()
    )
    found = {row.pop("d"): row for row in rows}
    return [Day(day, **found.get(day, {})) for day in days]


def _y_max(values, suspension: float) -> float:
    needed = max([float(v) for v in values] + [suspension * 1.15])
    return next((m for m in Y_MAXIMA if m >= needed), 1.0)


def _y(rate, y_max: float) -> float:
    return round(BOTTOM - (BOTTOM - TOP) * min(float(rate) / y_max, 1.0), 1)


def _x(index: int) -> float:
    return round(LEFT + (RIGHT - LEFT) * index / (CHART_DAYS - 1), 1)


def rate_chart(days: list[Day], *, title: str, ratio, what: str, healthy, violation, suspension) -> Chart:
    """A daily line chart of one rate, with the healthy band and the violation and suspension
    thresholds. `ratio(day)` → (numerator, denominator); a day with a zero denominator has no
    point and breaks the line."""
    measured = [(i, d, *ratio(d)) for i, d in enumerate(days) if ratio(d)[1]]
    y_max = _y_max([Fraction(n, of) for _, _, n, of in measured], suspension)
    points, segments, previous = [], [], None
    for i, d, n, of in measured:
        rate = Fraction(n, of)
        label = f"{d.day:%b} {d.day.day}: {rates.percent(rate)} ({n} of {of} {what})"
        points.append(Point(d.day, _x(i), _y(rate, y_max), label))
        if previous is None or i != previous + 1:
            segments.append([])
        segments[-1].append(f"{points[-1].x},{points[-1].y}")
        previous = i
    highest = max(measured, key=lambda m: Fraction(m[2], m[3]), default=None)
    summary = (
        f"highest {rates.percent(Fraction(highest[2], highest[3]))} on {highest[1].day:%b} {highest[1].day.day}"
        if highest
        else "no traffic yet"
    )
    return Chart(
        title=title,
        aria_label=(
            f"{title}, daily, over the last {CHART_DAYS} days: {len(points)} day(s) with traffic, {summary}; "
            f"violation at {rates.percent(violation)}, suspension at {rates.percent(suspension)}."
        ),
        points=points,
        segments=[" ".join(s) for s in segments if len(s) > 1],
        thresholds=[
            Mark(_y(violation, y_max), f"violation {rates.percent(violation)}", "violation"),
            Mark(_y(suspension, y_max), f"suspension {rates.percent(suspension)}", "suspension"),
        ],
        healthy_y=_y(healthy, y_max),
        y_ticks=[Mark(_y(v, y_max), rates.percent(v)) for v in (0, y_max / 2, y_max)],
        x_ticks=[
            Mark(_x(i), f"{days[i].day:%b} {days[i].day.day}", anchor=anchor)
            for i, anchor in ((0, "start"), (CHART_DAYS // 2, "middle"), (CHART_DAYS - 1, "end"))
        ],
    )


def charts(days: list[Day], policy: Policy) -> tuple[Chart, Chart]:
    error = rate_chart(
        days, title="Error rate", what="with a carrier receipt", ratio=lambda d: (d.undelivered, d.finalized),
        healthy=policy.ERROR_RATE_HEALTHY, violation=policy.ERROR_RATE_VIOLATION,
        suspension=policy.ERROR_RATE_SUSPENSION,
    )  # fmt: skip
    opt_out = rate_chart(
        days, title="Opt-out rate", what="sent", ratio=lambda d: (d.opt_outs, d.outbound),
        healthy=policy.OPT_OUT_RATE_HEALTHY, violation=policy.OPT_OUT_RATE_VIOLATION,
        suspension=policy.OPT_OUT_RATE_SUSPENSION,
    )  # fmt: skip
    return error, opt_out


# --- Delivery breakdown (30 days) -----------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    since: datetime
    sent: int  # handed to the carrier
    delivered: int
    undelivered: int
    awaiting: int  # sent, no final carrier status yet
    undelivered_by_code: list[dict]  # [{"code": "30003", "n": 12}, …]
    failed_by_reason: list[dict]  # [{"failure_reason": "…", "n": 3}, …], top 10


def breakdown(sub_account, days: list[Day]) -> Breakdown:
    """Delivered, undelivered by carrier code, awaiting a receipt, and failed before the carrier
    by reason, over the chart's days. Receipts are counted in the hour they arrive, sends in the
    hour they left, so `awaiting` (sent − final) is clamped at zero at the window's edge."""
    since = datetime.combine(days[0].day, time(0), tzinfo=UTC)
    by_code = (
        UndeliveredCode.objects.filter(sub_account=sub_account, day__gte=days[0].day)
        .values("code")
        .annotate(n=Sum("count"))
        .order_by("-n", "code")
    )
    failed = (
        Message.objects.filter(sub_account=sub_account, status=Status.FAILED, created_at__gte=since)
        .values("failure_reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "failure_reason")[:TOP_FAILURE_REASONS]
    )
    sent, finalized = sum(d.outbound for d in days), sum(d.finalized for d in days)
    return Breakdown(
        since=since, sent=sent, delivered=sum(d.delivered for d in days),
        undelivered=sum(d.undelivered for d in days), awaiting=max(sent - finalized, 0),
        undelivered_by_code=list(by_code), failed_by_reason=list(failed),
    )  # fmt: skip


# --- Violations and suspensions -------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    violation: Violation
    summary: str  # what was measured or matched, in a line


def _summary(v: Violation) -> str:
    d = v.detail or {}
    if v.kind in (Violation.Kind.ERROR_RATE, Violation.Kind.OPT_OUT_RATE):
        rates_text = f"error {d.get('error_rate', '—')} · opt-out {d.get('opt_out_rate', '—')}"
        if "finalized" not in d:
            return rates_text
        return (
            f"{rates_text} ({d['undelivered']} undelivered of {d['finalized']} with a receipt, "
            f"{d['opt_outs']} opt-outs of {d['outbound']} sent, 24 h)"
        )
    if v.kind == Violation.Kind.PROHIBITED_CONTENT:
        return f"matched “{d.get('matched', '')}” ({d.get('category', '')})"
    if v.kind == Violation.Kind.SNOWSHOE:
        return f"same message from {len(d.get('numbers', []))} numbers"
    return ""


def timeline(sub_account) -> tuple[list[Event], list[Suspension]]:
    """The latest violations (any kind, with the suspension each R8 one caused) and the latest
    suspensions: two queries on (sub_account, created_at) / (sub_account, ends_at) indexes."""
    violations = sub_account.violations.select_related("suspension__lifted_by").order_by("-created_at")[:TIMELINE_ROWS]
    suspensions = Suspension.objects.filter(sub_account=sub_account).select_related("lifted_by", "violation")
    return [Event(v, _summary(v)) for v in violations], list(suspensions.order_by("-started_at")[:TIMELINE_ROWS])


def suspension_cause(suspension: Suspension) -> str:
    """ "high error rate: 14.29 % in 24 h" (the banner's parenthesis)."""
    rate_key = "error_rate" if suspension.cause == Suspension.Cause.ERROR_RATE else "opt_out_rate"
    measured = (suspension.violation.detail or {}).get(rate_key)
    what = suspension.get_cause_display().lower()
    return f"high {what}: {measured} in 24 h" if measured else f"high {what}"


# --- The dashboard section ------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    counts: rates.Counts
    error: Gauge
    opt_out: Gauge
    error_chart: Chart
    opt_out_chart: Chart
    breakdown: Breakdown
    events: list[Event]
    suspensions: list[Suspension]
    suspension: Suspension | None  # in force now
    cause: str = ""
    measured_from: datetime | None = None  # later than 24 h ago: measured afresh after a suspension


def messaging_health(sub_account, now: datetime) -> Health:
    """Everything the "Messaging health" section shows, in seven queries whatever the volume."""
    policy = get_policy()
    # The counts the R8 decision uses: after a suspension ended, from then on.
    fresh = monitoring.measured_since(sub_account.pk, now)
    counts = monitoring.window_counts(sub_account_id=sub_account.pk, now=now, fresh_start=fresh)
    first, _last = rates.window_hours(now, policy)
    measured_from = rates.next_hour(fresh) if fresh and rates.next_hour(fresh) > first else None
    error, opt_out = gauges(counts, policy)
    days = daily_counts(sub_account, now)
    error_chart, opt_out_chart = charts(days, policy)
    events, suspensions = timeline(sub_account)
    in_force = Suspension.objects.filter(sub_account=sub_account).in_force(now).select_related("violation").first()
    return Health(
        counts=counts, error=error, opt_out=opt_out, error_chart=error_chart, opt_out_chart=opt_out_chart,
        breakdown=breakdown(sub_account, days), events=events, suspensions=suspensions, suspension=in_force,
        cause=suspension_cause(in_force) if in_force else "", measured_from=measured_from,
    )  # fmt: skip


@dataclass(frozen=True)
class SelfLift:
    """R9 last bullet: the lift form for an agency admin, or why it cannot be used now."""

    suspension: Suspension
    refusal: str  # "" when the form can be used
    every_days: int
    confirm_word: str = suspensions.CONFIRM_WORD


def self_lift_offer(*, suspension: Suspension | None, agency, is_agency_admin: bool, now) -> SelfLift | None:
    if suspension is None or not is_agency_admin:
        return None
    refusal = suspensions.self_lift_refusal(suspension=suspension, agency=agency, now=now)
    return SelfLift(suspension, refusal, get_policy().SELF_LIFT_EVERY_DAYS)


# --- Agency overview and support risk list --------------------------------------------------


@dataclass(frozen=True)
class Row:
    sub_account: object
    counts: rates.Counts
    error: Gauge
    opt_out: Gauge
    risk: float
    suspension: Suspension | None

    @property
    def tier(self) -> int:
        """0: enough volume for R8 to act, 1: some traffic below it, 2: no traffic."""
        if self.error.enough_volume or self.opt_out.enough_volume:
            return 0
        return 1 if self.counts.outbound or self.counts.finalized or self.counts.opt_outs else 2


def rows(sub_accounts, now: datetime) -> list[Row]:
    """One row per sub-account, in the order given: two queries (the trailing-window counters
    of every sub-account, the suspensions in force), whatever the number of sub-accounts."""
    policy = get_policy()
    sub_accounts = list(sub_accounts)
    ids = [s.pk for s in sub_accounts]
    measured = monitoring.window_counts_all(now=now, sub_account_ids=ids)
    in_force = suspensions.suspensions_in_force(ids, now)
    result = []
    for sub_account in sub_accounts:
        counts = measured.get(sub_account.pk, rates.Counts())
        error, opt_out = gauges(counts, policy)
        result.append(
            Row(sub_account, counts, error, opt_out, rates.risk(counts, policy), in_force.get(sub_account.pk))
        )
    return result


def suspension_thresholds(policy: Policy) -> str:
    return (
        f"error {rates.percent(policy.ERROR_RATE_SUSPENSION)}, opt-out {rates.percent(policy.OPT_OUT_RATE_SUSPENSION)}"
    )


def risk_list(sub_accounts, now: datetime) -> list[Row]:
    """Closest to a suspension threshold first (rates.risk). Rates below RATE_MIN_VOLUME cannot
    trigger anything yet (R8), so they come after every measured one, and no traffic comes last."""
    return sorted(
        rows(sub_accounts, now), key=lambda r: (r.tier, -r.risk, r.sub_account.agency.name, r.sub_account.name)
    )
