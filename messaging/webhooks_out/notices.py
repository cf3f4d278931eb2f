"""The email saying an endpoint was disabled (410, failing too long or too often), to the people
the violation emails go to: the agency's admins and the sub-account's owners. Sent once."""

import logging

import django_rq
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from compliance import times
from compliance.notices import recipients_of
from messaging.models import WebhookEndpoint

log = logging.getLogger(__name__)


def disabled_email_enqueue(endpoint_id) -> None:
    django_rq.get_queue("default").enqueue(disabled_email_send, endpoint_id)


def disabled_email_send(endpoint_id) -> bool:
    """The RQ job. Claimed with a conditional update, so a job run twice sends once; a failed
    send gives the claim back and raises (RQ's failure registry shows it, a retry sends it)."""
    now = timezone.now()
    claim = WebhookEndpoint.objects.filter(
        pk=endpoint_id, enabled=False, disabled_at__isnull=False, disabled_notified_at__isnull=True
    )
    if not claim.update(disabled_notified_at=now):
        return False
    endpoint = WebhookEndpoint.objects.select_related("sub_account__agency").get(pk=endpoint_id)
    try:
        message = disabled_email(endpoint)
        if message.to:
            message.send()
        else:
            log.warning("webhook endpoint %s: nobody to email for sub-account %s", endpoint.pk, endpoint.sub_account_id)
    except Exception:
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(disabled_notified_at=None)
        raise
    return True


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
