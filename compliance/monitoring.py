"""R8, error and opt-out rate monitoring, as services: the counters kept as messages are handed
to the carrier, receipts arrive and opt-outs are received; the evaluation that records a
Violation, suspends and enqueues the emails; enforcement reads; the agency self-lift (R9).

The arithmetic is pure, in `compliance.rates`. Counters are hourly rows (RateBucket) bumped
with `F()` in the same transaction that changes the message, so the trailing-24-hour rates are
a sum of at most 24 rows — no scan of the message table per receipt. The scheduled job
`rates_evaluate_all` re-evaluates every sub-account that sent in the window, as a safety net.

Locks are always taken in the same order — message or contact, then the hour's bucket, then
the sub-account row (only when a threshold is crossed) — so receipts and opt-outs arriving
together cannot deadlock, and two of them cannot both suspend or both email."""

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from compliance import rates, rules
from compliance.models import RateBucket, Suspension, UndeliveredCode, Violation
from compliance.policy import get_policy

log = logging.getLogger(__name__)


class MonitoringError(Exception):
    """A request the R8/R9 rules refuse, with a sentence to show the user."""


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


def count_sent(*, sub_account_id, source: str, now) -> None:
    """A message was handed to the carrier. Call in the transaction that records `sent`."""
    if _counted(source):
        _bump(RateBucket, {"sub_account_id": sub_account_id, "hour": rates.hour_of(now)}, outbound=1)


def count_final(*, sub_account_id, source: str, status: str, error_code: str, now) -> None:
    """A final carrier status (delivered / undelivered) was applied to a sent message. Call in
    the transaction that applies it; evaluates the rates at once (R8: as receipts arrive)."""
    if not _counted(source) or status not in ("delivered", "undelivered"):
        return
    delivered = int(status == "delivered")
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
    from accounts.models import SubAccount

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
        action = (
            f"Temporary suspension of bulk, workflow and campaign SMS until {ends_at:%Y-%m-%d %H:%M} UTC; "
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
    transaction.on_commit(lambda: _enqueue_email(violation.pk))
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
    transaction.on_commit(lambda: _enqueue_email(violation.pk))
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


# --- Enforcement reads ----------------------------------------------------------------------


def suspensions_in_force(sub_account_ids, now) -> dict:
    """sub-account id → the Suspension in force at `now` (one query)."""
    found = {}
    for suspension in Suspension.objects.filter(sub_account_id__in=set(sub_account_ids)).in_force(now):
        found.setdefault(suspension.sub_account_id, suspension)
    return found


def suspension_in_force(sub_account_id, now) -> Suspension | None:
    return suspensions_in_force([sub_account_id], now).get(sub_account_id)


PERMANENT_REASON = (
    "Sending is permanently suspended after repeated violations (R9): no SMS can be sent until support "
    "approves an appeal."
)


def suspension_decision(suspension: Suspension | None, source: str) -> rules.Decision:
    """May a message of `source` go while `suspension` (or none) is in force? (R8, R9)"""
    if suspension is None:
        return rules.ALLOW
    return rules.check_suspension(
        source=source, suspension_reason=suspension_reason(suspension), permanent=suspension.is_permanent,
        policy=get_policy(),
    )  # fmt: skip


def suspension_reason(suspension: Suspension) -> str:
    """The failure reason of a message refused by a suspension: names it and its end."""
    if suspension.is_permanent:
        return PERMANENT_REASON
    cause = "error" if suspension.cause == Suspension.Cause.ERROR_RATE else "opt-out"
    return (
        f"Sending is temporarily suspended until {suspension.ends_at:%Y-%m-%d %H:%M} UTC because the {cause} rate "
        "crossed its limit (R8). Bulk, workflow and campaign messages are not sent until then."
    )


# --- R9: agency self-lift -------------------------------------------------------------------

CONFIRM_WORD = "confirm"


def self_lift_refusal(*, suspension: Suspension, agency, now) -> str:
    """Why an agency admin may not lift this suspension themselves now, or "" when they may:
    a temporary rate suspension still in force, an agency older than 90 days, no self-lift by
    this agency in the last 30 days."""
    policy = get_policy()
    if suspension.is_permanent:
        return "A permanent suspension is lifted only by support staff, through an appeal (R9)."
    if suspension.lifted_at is not None or suspension.ends_at <= now:
        return "This suspension is no longer in force."
    if agency.created_at > now - timedelta(days=policy.SELF_LIFT_AGENCY_MIN_AGE_DAYS):
        return (
            f"Only agencies older than {policy.SELF_LIFT_AGENCY_MIN_AGE_DAYS} days can lift a suspension themselves; "
            f"this one ends at {suspension.ends_at:%Y-%m-%d %H:%M} UTC."
        )
    since = now - timedelta(days=policy.SELF_LIFT_EVERY_DAYS)
    last = (  # self-lifts only: a permanent suspension lifted by support on appeal is not one
        Suspension.objects.filter(
            sub_account__agency=agency, kind=Suspension.Kind.TEMPORARY, lifted_by__isnull=False, lifted_at__gte=since
        )
        .order_by("-lifted_at")
        .first()
    )
    if last is not None:
        again = last.lifted_at + timedelta(days=policy.SELF_LIFT_EVERY_DAYS)
        return (
            f"Your agency lifted a suspension on {last.lifted_at:%Y-%m-%d}; the next self-lift is possible from "
            f"{again:%Y-%m-%d %H:%M} UTC."
        )
    return ""


def suspension_self_lift(*, suspension: Suspension, user, acknowledged: bool, typed: str, now=None) -> None:
    """R9: an agency admin lifts a temporary rate suspension early, after ticking the
    acknowledgement and typing `confirm`. Recorded on the suspension (who, when). The caller
    checks the role; the rules are checked here under a lock on the agency."""
    from accounts.models import Agency

    now = now or timezone.now()
    if not acknowledged:
        raise MonitoringError("Tick the acknowledgement to lift the suspension.")
    if (typed or "").strip().lower() != CONFIRM_WORD:
        raise MonitoringError(f"Type “{CONFIRM_WORD}” to lift the suspension.")
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=suspension.sub_account.agency_id)
        locked = Suspension.objects.select_for_update().get(pk=suspension.pk)
        refusal = self_lift_refusal(suspension=locked, agency=agency, now=now)
        if refusal:
            raise MonitoringError(refusal)
        locked.lift(user=user, note=f"Lifted early by agency admin {user.email}", now=now)
    suspension.refresh_from_db()


# --- Emails ---------------------------------------------------------------------------------


def _enqueue_email(violation_id) -> None:
    django_rq.get_queue("default").enqueue(violation_email_send, violation_id)


def recipients_of(sub_account) -> list[str]:
    """R8: the agency's admins and the sub-account's owners."""
    from accounts.models import Role, User

    return sorted(
        set(
            User.objects.filter(
                is_active=True, memberships__role=Role.AGENCY_ADMIN, memberships__agency_id=sub_account.agency_id
            ).values_list("email", flat=True)
        )
        | set(
            User.objects.filter(
                is_active=True, memberships__role=Role.SUBACCOUNT_OWNER, memberships__sub_account=sub_account
            ).values_list("email", flat=True)
        )
    )


def violation_email_send(violation_id) -> bool:
    """The RQ job: the violation or suspension email of one Violation, plain text and HTML.
    Claimed with a conditional update, so a job run twice sends once; a failed send gives the
    claim back and raises, so RQ's failure registry shows it and a retry sends it."""
    violation = Violation.objects.select_related("sub_account__agency").filter(pk=violation_id).first()
    if violation is None or violation.level not in (Violation.Level.VIOLATION, Violation.Level.SUSPENSION):
        return False
    now = timezone.now()
    if not Violation.objects.filter(pk=violation.pk, emailed_at__isnull=True).update(emailed_at=now):
        return False
    try:
        message = violation_email(violation)
        if message.to:
            message.send()
        else:
            log.warning("violation %s: nobody to email for sub-account %s", violation.pk, violation.sub_account_id)
    except Exception:
        Violation.objects.filter(pk=violation.pk).update(emailed_at=None)
        raise
    return True


def violation_email(violation: Violation) -> EmailMultiAlternatives:
    sub_account = violation.sub_account
    policy = get_policy()
    suspension = getattr(violation, "suspension", None) if violation.level == Violation.Level.SUSPENSION else None
    context = {
        "violation": violation, "sub_account": sub_account, "agency": sub_account.agency, "d": violation.detail,
        "suspension": suspension, "policy": policy,
        "error_violation": rates.percent(policy.ERROR_RATE_VIOLATION),
        "opt_out_violation": rates.percent(policy.OPT_OUT_RATE_VIOLATION),
        "error_suspension": rates.percent(policy.ERROR_RATE_SUSPENSION),
        "opt_out_suspension": rates.percent(policy.OPT_OUT_RATE_SUSPENSION),
        "error_healthy": rates.percent(policy.ERROR_RATE_HEALTHY),
        "opt_out_healthy": rates.percent(policy.OPT_OUT_RATE_HEALTHY),
        "dashboard_url": settings.PUBLIC_BASE_URL + reverse("subaccount_dashboard", args=[sub_account.pk]),
        "appeals_url": settings.PUBLIC_BASE_URL + reverse("appeals", args=[sub_account.pk]),
    }  # fmt: skip
    name = "suspension" if suspension else "violation"
    what = violation.get_kind_display().lower()
    if suspension and suspension.is_permanent:
        subject = f"Sending permanently suspended for {sub_account.name}: repeated violations"
    elif suspension:
        subject = f"Sending suspended for {sub_account.name} until {suspension.ends_at:%Y-%m-%d %H:%M} UTC: high {what}"
    else:
        subject = f"Messaging violation for {sub_account.name}: high {what}"
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"compliance/email/{name}.txt", context),
        to=recipients_of(sub_account),
    )  # fmt: skip
    message.attach_alternative(render_to_string(f"compliance/email/{name}.html", context), "text/html")
    return message


# --- Rebuilding the counters ----------------------------------------------------------------


def rates_rebuild(*, sub_account_id, since) -> int:
    """Recompute a sub-account's counters from `since` (a whole UTC hour) from the message
    table, counting what the live path counts: `sent` at the hour of `sent_at`, final statuses
    at the hour of `final_at`, opt-outs at the hour their ConsentEvent was stored. For data
    that predates the counters (an upgrade, an import) and for demo data; live counting never
    needs it. Returns the number of hour rows written."""
    from django.db.models import Count, Q
    from django.db.models.functions import TruncDay, TruncHour

    from compliance.models import ConsentEvent
    from messaging.models import Direction, Message, Status

    policy = get_policy()
    outbound = Message.objects.filter(sub_account_id=sub_account_id, direction=Direction.OUTBOUND).exclude(
        source__in=policy.COMPLIANCE_SOURCES
    )
    handed = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
    hours: dict = {}

    def add(rows, **names):
        for row in rows:
            bucket = hours.setdefault(row["h"], dict.fromkeys(("outbound", "finalized", "delivered", "undelivered",
                                                                "opt_outs"), 0))  # fmt: skip
            for field, key in names.items():
                bucket[field] += row[key]

    add(
        outbound.filter(status__in=handed, sent_at__gte=since)
        .annotate(h=TruncHour("sent_at", tzinfo=rates.UTC))
        .values("h").annotate(n=Count("pk")).order_by(),
        outbound="n",
    )  # fmt: skip
    add(
        outbound.filter(status__in=(Status.DELIVERED, Status.UNDELIVERED), final_at__gte=since)
        .annotate(h=TruncHour("final_at", tzinfo=rates.UTC))
        .values("h")
        .annotate(f=Count("pk"), d=Count("pk", filter=Q(status=Status.DELIVERED)),
                  u=Count("pk", filter=Q(status=Status.UNDELIVERED)))
        .order_by(),
        finalized="f", delivered="d", undelivered="u",
    )  # fmt: skip
    add(
        ConsentEvent.objects.filter(
            sub_account_id=sub_account_id, kind=ConsentEvent.Kind.OPT_OUT, message__isnull=False, created_at__gte=since
        )
        .annotate(h=TruncHour("created_at", tzinfo=rates.UTC))
        .values("h").annotate(n=Count("pk")).order_by(),
        opt_outs="n",
    )  # fmt: skip
    codes = (
        outbound.filter(status=Status.UNDELIVERED, final_at__gte=since)
        .annotate(day=TruncDay("final_at", tzinfo=rates.UTC))
        .values("day", "error_code").annotate(n=Count("pk")).order_by()
    )  # fmt: skip
    with transaction.atomic():
        RateBucket.objects.filter(sub_account_id=sub_account_id, hour__gte=since).delete()
        RateBucket.objects.bulk_create(RateBucket(sub_account_id=sub_account_id, hour=h, **v) for h, v in hours.items())
        UndeliveredCode.objects.filter(sub_account_id=sub_account_id, day__gte=since.date()).delete()
        UndeliveredCode.objects.bulk_create(
            UndeliveredCode(
                sub_account_id=sub_account_id, day=row["day"].date(), code=(row["error_code"] or "none")[:10],
                count=row["n"],
            )
            for row in codes
        )  # fmt: skip
    return len(hours)
