"""What a user does to their outgoing webhooks besides creating them (issue 16): change an
endpoint, roll its secret, send a delivery again, send a test event. Used by Settings → Webhooks
and the API; the engine (emit, deliver, the SSRF guard) is in the package's __init__ and safety.

"Send again" makes a NEW pending delivery with the same event id and body, rather than resetting
the old one to pending: the old row keeps what happened to it (attempts, the status code, when),
so the log stays a record; the receiver, deduplicating on the event id, sees the same event; and
the new row starts its own 24-hour retry window instead of inheriting an exhausted one."""

import time

from django.db import transaction
from django.utils import timezone

from messaging.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from messaging.webhooks_out import enqueue, new_secret
from messaging.webhooks_out.safety import UnsafeUrl, resolve_safe

TEST_EVENT = "webhook.test"  # sent only on request, to one endpoint; never subscribed to
ENDPOINT_OFF = "This endpoint is turned off: turn it on first, then send to it."


class WebhookRefused(ValueError):
    """A change or a send that cannot be done; the sentence says why."""


def url_problem(url: str) -> str:
    """Why the SSRF guard refuses this address (the sentence shown at the field), or ""."""
    try:
        resolve_safe(url)
    except UnsafeUrl as exc:
        return str(exc)
    return ""


def events_problem(events) -> str:
    if not events:
        return "Choose at least one event."
    unknown = sorted(set(events) - set(WebhookEvent.values))
    return f"Unknown event: {', '.join(unknown)}." if unknown else ""


def endpoint_update(*, endpoint: WebhookEndpoint, url=None, events=None, enabled=None) -> WebhookEndpoint:
    """Change what is given (None: unchanged). Turning an endpoint back on clears its failure
    count, so the automatic turn-off counts the failures since the user looked at it."""
    fields = []
    if url is not None and url != endpoint.url:
        if problem := url_problem(url):
            raise WebhookRefused(problem)
        endpoint.url = url
        fields.append("url")
    if events is not None:
        if problem := events_problem(events):
            raise WebhookRefused(problem)
        endpoint.events = [e for e in WebhookEvent.values if e in set(events)]
        fields.append("events")
    if enabled is not None and enabled != endpoint.enabled:
        if enabled:
            endpoint.enable()  # the failure count and the turn-off reason start again
        else:
            endpoint.enabled = False
            fields.append("enabled")
    if fields:
        endpoint.save(update_fields=fields)
    return endpoint


def endpoint_roll_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret, in force for the next attempt (the old one stops at once)."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def _pending(endpoint, *, event_id=None, event_type, body) -> WebhookDelivery:
    if not endpoint.enabled:
        raise WebhookRefused(ENDPOINT_OFF)
    delivery = WebhookDelivery(endpoint=endpoint, event_type=event_type, body=body, next_attempt_at=timezone.now())
    if event_id is not None:
        delivery.event_id = event_id
    delivery.save()
    transaction.on_commit(lambda: enqueue(delivery.pk))
    return delivery


def delivery_send_again(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """The same event (id, type, body) as a new pending delivery to the same endpoint."""
    return _pending(delivery.endpoint, event_id=delivery.event_id, event_type=delivery.event_type, body=delivery.body)


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint only, signed and retried like any other. Built
    here, not through emit(): it goes to one endpoint whatever events it chose."""
    delivery = WebhookDelivery(endpoint=endpoint, event_type=TEST_EVENT)  # only for a fresh event id
    body = {
        "id": str(delivery.event_id),
        "type": TEST_EVENT,
        "created": int(time.time()),
        "data": {"endpoint_id": endpoint.pk, "note": "A test event sent from Settings → Webhooks or the API."},
    }
    return _pending(endpoint, event_id=delivery.event_id, event_type=TEST_EVENT, body=body)
