"""The email saying an endpoint was disabled (410, failing too long or too often), to the people
the violation emails go to: the agency's admins and the sub-account's owners. Sent once."""

import logging

import django_rq
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from redis.exceptions import RedisError

from compliance import times
from compliance.notices import SWEEP_AFTER, SWEEP_WITHIN, email_once, recipients_of
from messaging.models import WebhookEndpoint

log = logging.getLogger(__name__)


def disabled_email_enqueue(endpoint_id) -> None:
    """On commit of the turn-off: never raises for Redis; `disabled_emails_sweep` sends it."""
    try:
        django_rq.get_queue("default").enqueue(disabled_email_send, endpoint_id)
    except RedisError as exc:
        log.warning("webhook endpoint %s: email job not queued (%s); the sweep sends it", endpoint_id, exc)


def disabled_emails_sweep(now) -> int:
    """The turn-off emails whose job was lost (Redis keeps no jobs across a restart), sent late,
    once: the same window as the violation emails' sweep (`compliance.notices`)."""
    unsent = WebhookEndpoint.objects.filter(
        enabled=False, disabled_notified_at__isnull=True,
        disabled_at__lte=now - SWEEP_AFTER, disabled_at__gte=now - SWEEP_WITHIN,
    ).values_list("pk", flat=True)  # fmt: skip
    return sum(disabled_email_send(pk) for pk in list(unsent[:200]))


def disabled_email_send(endpoint_id) -> bool:
    """The RQ job: the turn-off email of one endpoint, once per turn-off (`email_once`)."""

    def build():
        return disabled_email(WebhookEndpoint.objects.select_related("sub_account__agency").get(pk=endpoint_id))

    disabled = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=False, disabled_at__isnull=False)
    return email_once(disabled, stamp="disabled_notified_at", build=build, what=f"webhook endpoint {endpoint_id}")


def disabled_email(endpoint) -> EmailMessage:
    sub_account = endpoint.sub_account
    context = {
        "endpoint": endpoint,
        "sub_account": sub_account,
        "agency": sub_account.agency,
        "disabled_at": times.local(endpoint.disabled_at, sub_account.time_zone),
        "timeout": f"{settings.WEBHOOK_TIMEOUT_SECONDS:g}",
        "dashboard_url": settings.PUBLIC_BASE_URL + reverse("subaccount_dashboard", args=[sub_account.pk]),
    }
    return EmailMessage(
        subject=f"Webhook turned off for {sub_account.name}: {endpoint.url}",
        body=render_to_string("messaging/email/webhook_disabled.txt", context),
        to=recipients_of(sub_account),
    )
