"""R8: the violation and suspension emails — who gets them, what they say, and the RQ job that
sends each once."""

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.models import Role, User
from compliance import rates, times
from compliance.models import Violation
from compliance.policy import get_policy

log = logging.getLogger(__name__)


# A violation's email job is queued on commit; Redis keeps no jobs across a restart (production
# runs it without persistence, as CI does), so a job can be lost. The sweep sends what is still
# unsent this long after it was recorded, for this long (an older one is history, not news).
SWEEP_AFTER = timedelta(minutes=2)
SWEEP_WITHIN = timedelta(days=2)


def violation_email_enqueue(violation_id) -> None:
    """On commit of the violation: never raises for Redis (the violation is recorded; a 5xx now
    would only make the caller retry), `violation_emails_sweep` sends it instead."""
    try:
        django_rq.get_queue("default").enqueue(violation_email_send, violation_id)
    except RedisError as exc:
        log.warning("violation %s: email job not queued (%s); the sweep sends it", violation_id, exc)


def violation_emails_sweep(now=None) -> int:
    """Cron: the violation and suspension emails whose job was lost (Redis restarted or was down)
    are sent now, each once (`violation_email_send` claims it). Returns how many were sent."""
    now = now or timezone.now()
    unsent = Violation.objects.filter(
        level__in=[Violation.Level.VIOLATION, Violation.Level.SUSPENSION], emailed_at__isnull=True,
        created_at__lte=now - SWEEP_AFTER, created_at__gte=now - SWEEP_WITHIN,
    ).values_list("pk", flat=True)  # fmt: skip
    sent = 0
    for pk in list(unsent[:200]):
        try:
            sent += violation_email_send(pk)
        except Exception:  # noqa: BLE001 - one broken email must not stop the others; retried next time
            log.exception("violation %s: email not sent; tried again at the next sweep", pk)
    return sent


def recipients_of(sub_account) -> list[str]:
    """R8: the agency's admins and the sub-account's owners."""
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


def email_once(rows, *, stamp: str, build, what: str) -> bool:
    """The email of one row, sent once: claimed by setting its `stamp` field where it is still
    empty (a job run twice sends once), then `build()` is sent; a failed send gives the claim
    back and raises, so RQ's failure registry shows it and a retry (or a sweep) sends it.
    `rows`: the row, filtered to the state in which its email is due."""
    if not rows.filter(**{f"{stamp}__isnull": True}).update(**{stamp: timezone.now()}):
        return False
    try:
        message = build()
        if message.to:
            message.send()
        else:
            log.warning("%s: nobody to email", what)
    except Exception:
        rows.update(**{stamp: None})
        raise
    return True


def violation_email_send(violation_id) -> bool:
    """The RQ job: the violation or suspension email of one Violation, plain text and HTML, once."""
    violation = Violation.objects.select_related("sub_account__agency").filter(pk=violation_id).first()
    if violation is None or violation.level not in (Violation.Level.VIOLATION, Violation.Level.SUSPENSION):
        return False
    return email_once(
        Violation.objects.filter(pk=violation.pk), stamp="emailed_at", build=lambda: violation_email(violation),
        what=f"violation {violation.pk} of sub-account {violation.sub_account_id}",
    )  # fmt: skip


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
        ends = times.utc_and_local(suspension.ends_at, sub_account.time_zone)
        subject = f"Sending suspended for {sub_account.name} until {ends}: high {what}"
    else:
        subject = f"Messaging violation for {sub_account.name}: high {what}"
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"compliance/email/{name}.txt", context),
        to=recipients_of(sub_account),
    )  # fmt: skip
    message.attach_alternative(render_to_string(f"compliance/email/{name}.html", context), "text/html")
    return message
