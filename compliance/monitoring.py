"""R8, error and opt-out rate monitoring, as services: the counters kept as messages are handed
to the carrier, receipts arrive and opt-outs are received, and the evaluation that records a
Violation, suspends and enqueues the emails. Enforcement (what a suspension refuses) and the
agency self-lift are in `compliance.suspensions`, the emails in `compliance.notices`, the
counters' rebuild in `compliance.rebuild`.

The arithmetic is pure, in `compliance.rates`. Counters are hourly rows (RateBucket) bumped
with `F()` in the same transaction that changes the message, so the trailing-24-hour rates are
a sum of at most 24 rows — no scan of the message table per receipt. The scheduled job
`rates_evaluate_all` re-evaluates every sub-account that sent in the window, as a safety net.

Locks are always taken in the same order — message or contact, then the hour's bucket, then
the sub-account row (only when a threshold is crossed) — so receipts and opt-outs arriving
together cannot deadlock, and two of them cannot both suspend or both email."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import SubAccount
from compliance import notices, rates, times
from compliance.models import RateBucket, Suspension, UndeliveredCode, Violation
from compliance.policy import get_policy
from messaging.models import Status

log = logging.getLogger(__name__)


# --- Counters -------------------------------------------------------------------------------


def _bump(model, keys: dict, **fields) -> None:
    """Add to counters of the row identified by `keys`, creating it if needed. The UPDATE takes
    the row lock; two first writers of an hour race on the unique constraint, and the loser
    updates the row the winner created."""
    increments = {name: F(name) + n for name, n in fields.items()}
    if model.objects.filter(**keys).update(**increments):
        return
    try:
        with transaction.atomic():
            model.objects.create(**keys, **fields)
    except IntegrityError:
        model.objects.filter(**keys).update(**increments)


def _counted(source: str) -> bool:
    # Keyword replies are compliance messages (R3): they neither count as outbound nor as errors.
    return source not in get_policy().COMPLIANCE_SOURCES


def count_sent(*, sub_account_id, source: str, now, count: int = 1) -> None:
    """`count` messages were handed to the carrier. Call in the transaction that records `sent`."""
    if _counted(source) and count:
        _bump(RateBucket, {"sub_account_id": sub_account_id, "hour": rates.hour_of(now)}, outbound=count)


def count_sent_sql(relation: str) -> tuple[str, list]:
    """`count_sent` for a set of rows, as SQL for PostgreSQL: the INSERT … ON CONFLICT that adds
    the rows of `relation` (columns sub_account_id, source, sent_at: e.g. the RETURNING of the
    statement that records them sent, as a common table expression) to their hours' outbound
    counters — for a caller that records a wave in one statement. The same rule as count_sent
    (keyword replies are not counted); buckets in (sub-account, hour) order, the order two
    writers of several buckets take their locks in."""
    table = RateBucket._meta.db_table
    sql = (
        f"INSERT INTO {table} (sub_account_id, hour, outbound, finalized, delivered, undelivered, opt_outs) "  # noqa: S608 - our names
        f"SELECT sub_account_id, date_trunc('hour', sent_at, 'UTC'), count(*), 0, 0, 0, 0 FROM {relation} "
        "WHERE NOT (source = ANY(%s)) GROUP BY 1, 2 ORDER BY 1, 2 "
        f"ON CONFLICT (sub_account_id, hour) DO UPDATE SET outbound = {table}.outbound + EXCLUDED.outbound"
    )
    return sql, [list(get_policy().COMPLIANCE_SOURCES)]


def count_final(*, sub_account_id, source: str, status: str, error_code: str, now) -> None:
    """A final carrier status (delivered / undelivered) was applied to a sent message. Call in
    the transaction that applies it; evaluates the rates at once (R8: as receipts arrive)."""
    if not _counted(source) or status not in (Status.DELIVERED, Status.UNDELIVERED):
        return
    delivered = int(status == Status.DELIVERED)
    _bump(
        RateBucket, {"sub_account_id": sub_account_id, "hour": rates.hour_of(now)},
        finalized=1, delivered=delivered, undelivered=1 - delivered,
    )  # fmt: skip
    if not delivered:
        code = (error_code or "none")[:10]
        _bump(
            UndeliveredCode, {"sub_account_id": sub_account_id, "day": rates.hour_of(now).date(), "code": code}, count=1
        )
    rates_evaluate(sub_account_id=sub_account_id, now=now)


def count_opt_out(*, sub_account_id, now) -> None:
    """An opt-out keyword was received (R3: one per opt-out). Call in the opt-out transaction."""
    _bump(RateBucket, {"sub_account_id": sub_account_id, "hour": rates.hour_of(now)}, opt_outs=1)
    rates_evaluate(sub_account_id=sub_account_id, now=now)


def window_counts(*, sub_account_id, now, fresh_start=None) -> rates.Counts:
    """The trailing window's counts; from `fresh_start` on if that is later (see `measured_since`)."""
    first, last = rates.window_hours(now, get_policy())
    if fresh_start is not None:
        first = max(first, rates.next_hour(fresh_start))
    totals = RateBucket.objects.filter(sub_account_id=sub_account_id, hour__gte=first, hour__lte=last).aggregate(
        outbound=Sum("outbound"), finalized=Sum("finalized"), undelivered=Sum("undelivered"), opt_outs=Sum("opt_outs")
    )
    return rates.Counts(**{name: value or 0 for name, value in totals.items()})


def window_counts_all(*, now, sub_account_ids=None) -> dict:
    """Every sub-account (or those of `sub_account_ids`) with counters in the trailing window →
    its Counts (one query)."""
    first, last = rates.window_hours(now, get_policy())
    buckets = RateBucket.objects.filter(hour__gte=first, hour__lte=last)
    if sub_account_ids is not None:
        buckets = buckets.filter(sub_account_id__in=list(sub_account_ids))
    rows = (
        buckets.values("sub_account_id")
        .annotate(o=Sum("outbound"), f=Sum("finalized"), u=Sum("undelivered"), x=Sum("opt_outs"))
        .order_by()
    )
    return {r["sub_account_id"]: rates.Counts(r["o"], r["f"], r["u"], r["x"]) for r in rows}


# --- Evaluation -----------------------------------------------------------------------------


def rates_evaluate(*, sub_account_id, now=None) -> rates.Verdict:
    """Measure the trailing window and act: at a suspension threshold, suspend (unless a
    suspension already covers now) and email; at a violation threshold, record a Violation and
    email, at most once per UTC day and not while suspended. Safe to call any number of times."""
    now = now or timezone.now()
    policy = get_policy()
    counts = window_counts(sub_account_id=sub_account_id, now=now)
    verdict = rates.verdict(counts, policy)
    if verdict.level == rates.NONE:  # a fresh start only lowers the counts: no need to look it up
        return verdict
    fresh_start = measured_since(sub_account_id, now)
    if fresh_start is not None:
        counts = window_counts(sub_account_id=sub_account_id, now=now, fresh_start=fresh_start)
        verdict = rates.verdict(counts, policy)
        if verdict.level == rates.NONE:
            return verdict
    with transaction.atomic():
        # Serialises the decision. no_key: the rows other transactions insert for this
        # sub-account (messages, events) take a key-share lock on it, which FOR UPDATE would block.
        SubAccount.objects.select_for_update(no_key=True).filter(pk=sub_account_id).first()
        if Suspension.objects.filter(sub_account_id=sub_account_id).covering(now).exists():
            return verdict
        if verdict.level == rates.SUSPENSION:
            _suspend(sub_account_id, verdict, counts, now, policy)
        else:
            _violation_notice(sub_account_id, verdict, counts, now, policy)
    return verdict


def measured_since(sub_account_id, now):
    """When the last suspension ended or was lifted, if it did within the window: the rates are
    measured afresh from then, so the same bad hours do not suspend the sub-account again the
    moment it may send (which would make every suspension the next one's cause, R9)."""
    ends = [
        lifted_at or ends_at
        for lifted_at, ends_at in Suspension.objects.filter(sub_account_id=sub_account_id, started_at__lte=now)
        .order_by("-started_at")
        .values_list("lifted_at", "ends_at")[:3]
        if (lifted_at or ends_at) is not None and (lifted_at or ends_at) <= now
    ]
    return max(ends, default=None)


def _detail(verdict, counts, now, policy) -> dict:
    first, last = rates.window_hours(now, policy)
    return {
        "error_rate": rates.percent(verdict.error_rate), "opt_out_rate": rates.percent(verdict.opt_out_rate),
        "outbound": counts.outbound, "finalized": counts.finalized, "undelivered": counts.undelivered,
        "opt_outs": counts.opt_outs, "window_start": first.isoformat(),
        "window_end": (last + timedelta(hours=1)).isoformat(), "measured_at": now.isoformat(),
    }  # fmt: skip


def _suspend(sub_account_id, verdict, counts, now, policy) -> Suspension:
    """A temporary suspension — or, as the PERMANENT_AFTER-th within PERMANENT_WINDOW_DAYS, a
    permanent one (R9)."""
    earlier = Suspension.objects.filter(
        sub_account_id=sub_account_id, started_at__gte=now - timedelta(days=policy.PERMANENT_WINDOW_DAYS)
    ).count()
    permanent = earlier + 1 >= policy.PERMANENT_AFTER
    ends_at = None if permanent else rates.suspension_end(now, policy)
    if permanent:
        action = (
            f"Permanent suspension ({earlier + 1} suspensions within {policy.PERMANENT_WINDOW_DAYS} days): no SMS "
            "of any source until support approves an appeal; suspension email sent"
        )
    else:
        zone = SubAccount.objects.values_list("time_zone", flat=True).get(pk=sub_account_id)
        action = (
            f"Temporary suspension of bulk, workflow and campaign SMS until {times.utc_and_local(ends_at, zone)}; "
            "suspension email sent"
        )
    violation = Violation.objects.create(
        sub_account_id=sub_account_id, kind=verdict.kind, level=Violation.Level.SUSPENSION,
        detail=_detail(verdict, counts, now, policy), action=action,
    )  # fmt: skip
    suspension = Suspension.objects.create(
        sub_account_id=sub_account_id, cause=verdict.kind, violation=violation, started_at=now, ends_at=ends_at,
        kind=Suspension.Kind.PERMANENT if permanent else Suspension.Kind.TEMPORARY,
    )  # fmt: skip
    transaction.on_commit(lambda: notices.violation_email_enqueue(violation.pk))
    log.warning("sub-account %s suspended (%s) until %s (%s)", sub_account_id, suspension.kind, ends_at, verdict.kind)
    return suspension


def _violation_notice(sub_account_id, verdict, counts, now, policy) -> Violation | None:
    day = rates.hour_of(now).date()  # the UTC day
    if Violation.objects.filter(
        sub_account_id=sub_account_id, level=Violation.Level.VIOLATION, notice_day=day
    ).exists():
        return None
    try:
        with transaction.atomic():
            violation = Violation.objects.create(
                sub_account_id=sub_account_id, kind=verdict.kind, level=Violation.Level.VIOLATION, notice_day=day,
                detail=_detail(verdict, counts, now, policy), action="Violation email sent",
            )  # fmt: skip
    except IntegrityError:  # another process recorded today's notice first
        return None
    transaction.on_commit(lambda: notices.violation_email_enqueue(violation.pk))
    return violation


def rates_evaluate_all() -> dict:
    """Cron safety net (config/cron.py): evaluate every sub-account that sent in the window."""
    measured = window_counts_all(now=timezone.now())
    acted = 0
    for sub_account_id in measured:
        try:  # the clock read per sub-account: a long run must not decide on a stale `now`
            acted += rates_evaluate(sub_account_id=sub_account_id, now=timezone.now()).level != rates.NONE
        except Exception:  # one sub-account's failure must not stop the others
            log.exception("rate evaluation failed for sub-account %s", sub_account_id)
    return {"evaluated": len(measured), "over_a_threshold": acted}
