"""Submitting a sub-account's carrier registration (issue 17) and following its review. The
record and its rules are compliance's (`compliance.models.Registration`,
`compliance.registration`); this module is the part that talks to the provider."""

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance import registration as records
from compliance import registration_rules
from compliance.models import Registration
from messaging.models import PhoneNumber
from messaging.providers.registration import (
    APPROVED,
    REJECTED,
    RegistrationRefused,
    RegistrationRequest,
    get_registrar,
)
from messaging.services import MessagingError

log = logging.getLogger(__name__)


def request_of(registration: Registration) -> RegistrationRequest:
    toll_free_sid = ""
    if registration.kind == Registration.Kind.TOLL_FREE:
        numbers = PhoneNumber.objects.filter(sub_account_id=registration.sub_account_id)
        toll_free_sid = next(
            (n.provider_sid for n in numbers if registration_rules.registration_kind(n.number) == "toll_free"), ""
        )
    return RegistrationRequest(
        kind=registration.kind, legal_name=registration.legal_name, website=registration.website,
        contact_email=registration.contact_email, use_case=registration.use_case,
        description=registration.description, opt_in_description=registration.opt_in_description,
        samples=[registration.sample_1, registration.sample_2], monthly_volume=registration.monthly_volume,
        tax_id=registration.tax_id, customer_profile_sid=registration.customer_profile_sid,
        a2p_profile_sid=registration.a2p_profile_sid, toll_free_number_sid=toll_free_sid,
        brand_sid=registration.brand_sid, campaign_sid=registration.campaign_sid,
        submitted_at=registration.submitted_at,
    )  # fmt: skip


def registration_submit(*, registration: Registration, user) -> Registration:
    """Check what a reviewer would reject, then submit through the provider. A draft or a
    rejected registration can be submitted; the review result comes back by `registration_sync`."""
    if not registration.editable:
        raise MessagingError(
            f"This registration is {registration.get_status_display().lower()}: it cannot be submitted again."
        )
    problems = records.problems(registration)
    if problems:
        raise MessagingError(" ".join(problems))
    try:
        outcome = get_registrar().submit(request_of(registration))
    except RegistrationRefused as exc:
        raise MessagingError(str(exc)) from exc
    now = timezone.now()
    with transaction.atomic():
        registration.mark_submitted(
            brand_sid=outcome.brand_sid, campaign_sid=outcome.campaign_sid, provider_status=outcome.provider_status,
            now=now, user=user,
        )  # fmt: skip
        _apply(registration, outcome, now)
        if registration.status == Registration.Status.SUBMITTED and settings.SMS_BACKEND == "simulator":
            # The simulator's reviewer decides after SIMULATOR_REVIEW_SECONDS; look then, not a minute later.
            when = timedelta(seconds=settings.SIMULATOR_REVIEW_SECONDS + 1)
            pk = registration.pk
            transaction.on_commit(lambda: django_rq.get_queue("default").enqueue_in(when, registration_sync, pk))
    return registration


def _apply(registration: Registration, outcome, now) -> None:
    if outcome.status == APPROVED:
        registration.campaign_sid = outcome.campaign_sid or registration.campaign_sid
        registration.save(update_fields=["campaign_sid", "updated_at"])
        registration.mark_approved(provider_status=outcome.provider_status, now=now)
    elif outcome.status == REJECTED:
        registration.mark_rejected(provider_status=outcome.provider_status, reason=outcome.reason, now=now)
    elif (outcome.provider_status, outcome.campaign_sid) != (registration.provider_status, registration.campaign_sid):
        registration.provider_status, registration.campaign_sid = outcome.provider_status, outcome.campaign_sid
        registration.save(update_fields=["provider_status", "campaign_sid", "updated_at"])


def registration_sync(registration_id) -> str:
    """Job: read one submitted registration's review status back. Safe to run twice."""
    with transaction.atomic():
        registration = Registration.objects.select_for_update().filter(pk=registration_id).first()
        if registration is None or registration.status != Registration.Status.SUBMITTED:
            return "not in review"
        try:
            outcome = get_registrar().fetch(request_of(registration))
        except RegistrationRefused as exc:
            log.warning("registration %s: %s", registration_id, exc)
            return "provider refused"
        _apply(registration, outcome, timezone.now())
        return registration.status


def registrations_sync() -> int:
    """Cron: every registration in review, read back (reviews take minutes to weeks)."""
    ids = list(Registration.objects.awaiting_review().values_list("pk", flat=True)[:500])
    for pk in ids:
        registration_sync(pk)
    return len(ids)
