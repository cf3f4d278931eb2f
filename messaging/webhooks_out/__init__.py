"""Outgoing webhooks (issue 16): events of a sub-account POSTed, signed, to its endpoints.

emit() records one WebhookDelivery per matching enabled endpoint and enqueues the delivery job
after commit; deliver() signs and POSTs it to the IP checked against SSRF (see safety.py)."""

import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta

import django_rq
import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from messaging.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent
from messaging.webhooks_out.safety import UnsafeUrl, resolve_safe

TIMEOUT = 5
BACKOFF_BASE = 30
GIVE_UP_AFTER = timedelta(hours=24)


def new_secret():
    return "whsec_" + secrets.token_hex(24)


def sign(secret, body, t=None):
    """The Textwise-Signature header: t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">."""
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def endpoint_create(*, sub_account, url, events):
    """A new endpoint; refuses (UnsafeUrl/ValueError) a URL the SSRF guard rejects or unknown
    events. The returned endpoint's secret is shown to the user once."""
    resolve_safe(url)
    unknown = set(events) - set(WebhookEvent.values)
    if unknown or not events:
        raise ValueError("Choose at least one known event.")
    return WebhookEndpoint.objects.create(sub_account=sub_account, url=url, events=list(events), secret=new_secret())


def emit(sub_account_id, event_type, data):
    """Create a delivery for each enabled endpoint of the sub-account subscribed to event_type
    and enqueue its job on commit. Returns the deliveries."""
    if event_type not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event_type!r}")
    deliveries = []
    for endpoint in WebhookEndpoint.objects.filter(sub_account_id=sub_account_id, enabled=True):
        if event_type not in endpoint.events:
            continue
        delivery = WebhookDelivery(endpoint=endpoint, event_type=event_type)
        delivery.body = {
            "id": str(delivery.event_id),
            "type": event_type,
            "created": int(time.time()),
            "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        }
        delivery.next_attempt_at = timezone.now()
        delivery.save()
        deliveries.append(delivery)
        transaction.on_commit(lambda pk=delivery.pk: enqueue(pk))
    return deliveries


def enqueue(delivery_id):
    django_rq.get_queue("default").enqueue(deliver, delivery_id)


def backoff(attempts):
    """Seconds to wait after the n-th failed attempt: 30 s × 2^(n-1)."""
    return BACKOFF_BASE * 2 ** max(attempts - 1, 0)


def deliver(delivery_id):
    """One attempt. 2xx = delivered; 410 disables the endpoint; anything else retries with
    backoff until 24 h after the first attempt, then the endpoint is disabled."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if delivery.state != DeliveryState.PENDING or not endpoint.enabled:
        return delivery
    now = timezone.now()
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    body = json.dumps(delivery.body, separators=(",", ":"), sort_keys=True)
    status, error = None, ""
    try:
        url, host = resolve_safe(endpoint.url)
        response = requests.post(
            url,
            data=body.encode(),
            headers={
                "Host": host,
                "Content-Type": "application/json",
                "Textwise-Signature": sign(endpoint.secret, body),
                "Textwise-Event-Id": str(delivery.event_id),
            },
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        status = response.status_code
    except UnsafeUrl as exc:
        error = f"refused: {exc}"
    except requests.RequestException as exc:
        error = str(exc)[:500]
    delivery.last_status_code = status
    delivery.last_error = error
    if status is not None and 200 <= status < 300:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.failure_count = 0
    elif status == 410:
        delivery.state = DeliveryState.FAILED
        delivery.next_attempt_at = None
        endpoint.enabled = False
    else:
        endpoint.failure_count += 1
        retry_at = now + timedelta(seconds=backoff(delivery.attempts))
        if retry_at - delivery.first_attempt_at > GIVE_UP_AFTER:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
            endpoint.enabled = False
        else:
            delivery.next_attempt_at = retry_at
    delivery.save()
    endpoint.save(update_fields=["enabled", "failure_count"])
    return delivery


def sweep():
    """Cron: deliver every pending delivery that is due."""
    due = WebhookDelivery.objects.filter(
        state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now(), endpoint__enabled=True
    ).values_list("pk", flat=True)
    for pk in list(due[:500]):
        deliver(pk)


def message_data(message):
    return {
        "message_id": message.pk,
        "contact_id": message.contact_id,
        "direction": message.direction,
        "status": message.status,
        "error_code": message.error_code,
        "from": message.from_number,
        "to": message.to_number,
    }
