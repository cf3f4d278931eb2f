"""R8/R9 enforcement: which suspension is in force, what it refuses and why (in the words a
failed message carries), and the agency self-lift of a temporary suspension (R9 last bullet).
Suspensions themselves are recorded by `compliance.monitoring`."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Agency
from compliance import rules, times
from compliance.errors import ComplianceError
from compliance.models import Suspension
from compliance.policy import get_policy

# --- Enforcement ------------------------------------------------------------------------------


def suspensions_in_force(sub_account_ids, now) -> dict:
    """sub-account id → the Suspension in force at `now` (one query)."""
    found = {}
    for suspension in Suspension.objects.filter(sub_account_id__in=set(sub_account_ids)).in_force(now):
        found.setdefault(suspension.sub_account_id, suspension)
    return found


def suspension_in_force(sub_account_id, now) -> Suspension | None:
    return suspensions_in_force([sub_account_id], now).get(sub_account_id)


PERMANENT_REASON = (
    "Sending is permanently suspended after repeated violations: no SMS can be sent until support approves an appeal."
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
    zone = suspension.sub_account.time_zone
    return (
        f"Sending is temporarily suspended until {times.utc_and_local(suspension.ends_at, zone)} because the "
        f"{cause} rate crossed its limit. Bulk, workflow and campaign messages are not sent until then."
    )


# --- R9: agency self-lift -------------------------------------------------------------------

CONFIRM_WORD = "confirm"


def self_lift_refusal(*, suspension: Suspension, agency, now) -> str:
    """Why an agency admin may not lift this suspension themselves now, or "" when they may:
    a temporary rate suspension still in force, an agency older than 90 days, no self-lift by
    this agency in the last 30 days."""
    policy = get_policy()
    if suspension.is_permanent:
        return "A permanent suspension is lifted only by support staff, through an appeal."
    if suspension.lifted_at is not None or suspension.ends_at <= now:
        return "This suspension is no longer in force."
    if agency.created_at > now - timedelta(days=policy.SELF_LIFT_AGENCY_MIN_AGE_DAYS):
        return (
            f"Only agencies older than {policy.SELF_LIFT_AGENCY_MIN_AGE_DAYS} days can lift a suspension themselves; "
            f"this one ends at {times.utc_and_local(suspension.ends_at, suspension.sub_account.time_zone)}."
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
        zone = suspension.sub_account.time_zone
        again = last.lifted_at + timedelta(days=policy.SELF_LIFT_EVERY_DAYS)
        return (
            f"Your agency lifted a suspension on {times.day_of(last.lifted_at, zone)}; the next self-lift is "
            f"possible from {times.local(again, zone)}."
        )
    return ""


def suspension_self_lift(*, suspension: Suspension, user, acknowledged: bool, typed: str, now=None) -> None:
    """R9: an agency admin lifts a temporary rate suspension early, after ticking the
    acknowledgement and typing `confirm`. Recorded on the suspension (who, when). The caller
    checks the role; the rules are checked here under a lock on the agency."""
    now = now or timezone.now()
    if not acknowledged:
        raise ComplianceError("Tick the acknowledgement to lift the suspension.")
    if (typed or "").strip().lower() != CONFIRM_WORD:
        raise ComplianceError(f"Type “{CONFIRM_WORD}” to lift the suspension.")
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=suspension.sub_account.agency_id)
        locked = Suspension.objects.select_for_update().get(pk=suspension.pk)
        refusal = self_lift_refusal(suspension=locked, agency=agency, now=now)
        if refusal:
            raise ComplianceError(refusal)
        locked.lift(user=user, note=f"Lifted early by agency admin {user.email}", now=now)
    suspension.refresh_from_db()
