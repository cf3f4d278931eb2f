"""R12 as records: may a sub-account get a new phone number now, and why not — permanently
suspended (R9), a temporary suspension in force (R8), or restricted for repeated violations
(PROVISIONING_RESTRICT_AFTER suspensions within PROVISIONING_RESTRICT_WINDOW_DAYS) — and support
staff's lift of that restriction, recorded. The decision is `rules.check_provisioning`."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import SubAccount
from compliance import rules, suspensions, times
from compliance.errors import ComplianceError
from compliance.models import ProvisioningLift, Suspension
from compliance.policy import get_policy


@dataclass(frozen=True)
class ProvisioningState:
    decision: rules.Decision
    suspension: Suspension | None  # in force now
    counted: list[Suspension]  # the suspensions that count toward the restriction
    counted_since: datetime  # the window's start, or the latest lift if later
    restricted: bool  # by repeated violations (what support can lift)
    lifts: list[ProvisioningLift]


def provisioning_state(sub_account: SubAccount, now: datetime) -> ProvisioningState:
    policy = get_policy()
    suspension = suspensions.suspension_in_force(sub_account.pk, now)
    lifts = list(ProvisioningLift.objects.filter(sub_account=sub_account).select_related("lifted_by"))
    since = now - timedelta(days=policy.PROVISIONING_RESTRICT_WINDOW_DAYS)
    if lifts and lifts[0].lifted_at > since:
        since = lifts[0].lifted_at
    # Not bounded by `now`: one another process has just recorded counts (see `covering`).
    counted = list(Suspension.objects.filter(sub_account=sub_account, started_at__gt=since))
    until = ""
    if suspension is not None and not suspension.is_permanent:
        until = times.utc_and_local(suspension.ends_at, sub_account.time_zone)  # R8: ends at 00:00 UTC
    decision = rules.check_provisioning(
        permanent=suspension is not None and suspension.is_permanent, suspended_until=until,
        recent_suspensions=len(counted), policy=policy,
    )  # fmt: skip
    restricted = len(counted) >= policy.PROVISIONING_RESTRICT_AFTER
    return ProvisioningState(decision, suspension, counted, since, restricted, lifts)


def provisioning_refusal(sub_account: SubAccount, now: datetime) -> str:
    """Why no new number may be added now, in the user's words; "" when one may."""
    return provisioning_state(sub_account, now).decision.reason


def provisioning_restriction_lift(*, sub_account: SubAccount, user, reason: str, now=None) -> ProvisioningLift:
    """Support staff lift the repeated-violations restriction (R12), with a reason. Under a lock
    on the sub-account, so two lifts at once record one. It does not lift a suspension: while one
    is in force, numbers stay refused for that reason."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not user.is_support_staff:
        raise ComplianceError("Only support staff can lift this restriction.")
    if not reason:
        raise ComplianceError("Say why the restriction is lifted.")
    with transaction.atomic():
        SubAccount.objects.select_for_update().filter(pk=sub_account.pk).first()
        if not provisioning_state(sub_account, now).restricted:
            raise ComplianceError("This sub-account is not restricted for repeated violations.")
        return ProvisioningLift.objects.create(sub_account=sub_account, lifted_by=user, lifted_at=now, reason=reason)
