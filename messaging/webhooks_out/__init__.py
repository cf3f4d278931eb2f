"""Outgoing webhooks (issue 16): events of a sub-account POSTed, signed, to its endpoints.

emit() records one WebhookDelivery per matching enabled endpoint and enqueues its job on the
`webhooks` queue after commit (its own worker: a slow receiver never delays sending). deliver()
claims the delivery, POSTs it to the address checked against SSRF (safety.py, transport.py) with
no transaction open, and records the attempt. Retries are the cron sweep's: every 30 s it
enqueues the deliveries whose backoff has run out."""

import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import timedelta

import django_rq
import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rq import Queue
from rq.job import Job

from messaging.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from messaging.webhooks_out import transport
from messaging.webhooks_out.notices import disabled_email_enqueue, disabled_emails_sweep
from messaging.webhooks_out.safety import UnsafeUrl, resolve_safe

QUEUE = "webhooks"
BACKOFF_BASE = 30
# An attempt's claim: longer than one attempt can take (connect + read timeouts), so a second job
# for the same delivery finds it claimed; a worker killed mid-attempt leaves it due again after this.
CLAIM_SECONDS = 120
SWEEP_BATCH = 500
JOB_ID = "webhook-delivery-{}"


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
    return emit_many(sub_account_id, event_type, [data])


def emit_many(sub_account_id, event_type, items):
    """emit() for many events of one type at once (a workflow step finishing 500 enrollments):
    one query for the endpoints, one insert, one enqueue. Each event has one id, the same for
    every endpoint it goes to and every retry."""
    if event_type not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(sub_account_id=sub_account_id, enabled=True) if event_type in e.events
    ]
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = []
    for data in items:
        event_id = uuid.uuid4()
        body = {"id": str(event_id), "type": event_type, "created": int(now.timestamp()),
                "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder))}  # fmt: skip
        deliveries += [
            WebhookDelivery(endpoint=e, event_id=event_id, event_type=event_type, body=body, next_attempt_at=now)
            for e in endpoints
        ]
    WebhookDelivery.objects.bulk_create(deliveries, batch_size=500)
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: enqueue(*ids))
    return deliveries


def enqueue(*delivery_ids):
    """One job per delivery on the `webhooks` queue, skipping a delivery whose job is still
    waiting or running (the sweep meets deliveries the queue has not reached yet)."""
    if not delivery_ids:
        return
    queue = django_rq.get_queue(QUEUE)
    job_ids = [JOB_ID.format(pk) for pk in delivery_ids]
    busy = {"queued", "started", "scheduled", "deferred"}
    jobs = Job.fetch_many(job_ids, connection=queue.connection)
    fresh = [
        Queue.prepare_data(deliver, args=(pk,), job_id=job_id, result_ttl=0, failure_ttl=7 * 86400)
        for pk, job_id, job in zip(delivery_ids, job_ids, jobs, strict=True)
        if job is None or job.get_status(refresh=False) not in busy
    ]
    if fresh:
        queue.enqueue_many(fresh)


def backoff(attempts):
    """Seconds to wait after the n-th failed attempt: 30 s × 2^(n-1)."""
    return BACKOFF_BASE * 2 ** max(attempts - 1, 0)


def deliver(delivery_id):
    """The RQ job: one attempt. 2xx = delivered; 410 disables the endpoint; anything else retries
    with backoff until WEBHOOK_GIVE_UP_HOURS after the first attempt (then the delivery fails
    and the endpoint is disabled), and WEBHOOK_DISABLE_AFTER_FAILURES failed attempts in a row
    disable the endpoint too. Safe to run twice or concurrently: the attempt is claimed with a
    conditional update first, so a delivered (or claimed) delivery is never POSTed again."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or not delivery.endpoint.enabled:  # gone: its endpoint was deleted meanwhile
        return delivery
    # The claim's conditions are on the row it updates only (no join, which Django would turn into
    # `pk IN (subquery)`): PostgreSQL re-checks them after waiting for a concurrent claimer's lock,
    # so of two workers exactly one wins.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
    delivery.refresh_from_db()
    if not claimed:
        return delivery
    endpoint = delivery.endpoint
    delivery.first_attempt_at = delivery.first_attempt_at or now
    body = json.dumps(delivery.body, separators=(",", ":"), sort_keys=True)
    started = time.monotonic()
    status, error = _attempt(endpoint, delivery, body)
    duration_ms = round((time.monotonic() - started) * 1000)
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, sub_account_id=endpoint.sub_account_id, attempted_at=now, status_code=status,
            error=error, duration_ms=duration_ms,
        )  # fmt: skip
        _record(delivery, endpoint, status, error, now)
    return delivery


def _attempt(endpoint, delivery, body):
    """(status code, "") or (None, the error in words)."""
    try:
        target = resolve_safe(endpoint.url)  # again now: the name may resolve elsewhere since it was saved
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Textwise-Webhooks/1",
            "Textwise-Signature": sign(endpoint.secret, body),
            "Textwise-Event-Id": str(delivery.event_id),
        }
        return transport.post(target, body.encode(), headers), ""
    except UnsafeUrl as exc:
        return None, f"refused: {exc}"
    except requests.exceptions.SSLError as exc:
        return None, f"certificate check failed: {_cause(exc)}"[:500]
    except requests.exceptions.Timeout:
        return None, f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s"
    except requests.RequestException as exc:
        return None, _cause(exc)[:500]


def _cause(exc) -> str:
    """What went wrong, without requests' wrapping ("Max retries exceeded with url…", which names
    the IP connected to): urllib3's reason, and inside an SSL error the ssl module's own words."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, Exception) and isinstance(reason.args[0] if reason.args else None, Exception):
        reason = reason.args[0]
    return str(reason or exc)


def _record(delivery, endpoint, status, error, now):
    delivery.last_status_code, delivery.last_error = status, error
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = DeliveryState.DELIVERED, now, None
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_count=0)
    elif status == 410:
        delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
        endpoint_disable(endpoint, reason="The endpoint answered 410 Gone: it asked for no more deliveries.", now=now)
    else:
        # F(): concurrent attempts to the same endpoint each count.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_count=F("failure_count") + 1)
        failures = WebhookEndpoint.objects.values_list("failure_count", flat=True).get(pk=endpoint.pk)
        last = f"HTTP {status}" if status is not None else error[:150]
        retry_at = now + timedelta(seconds=backoff(delivery.attempts))
        give_up = timedelta(hours=settings.WEBHOOK_GIVE_UP_HOURS)
        if retry_at - delivery.first_attempt_at > give_up:
            delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
            reason = f"A delivery kept failing for {settings.WEBHOOK_GIVE_UP_HOURS:g} hours (last: {last})."
            endpoint_disable(endpoint, reason=reason, now=now)
        else:
            delivery.next_attempt_at = retry_at
            span = _failing_for(endpoint, now) if failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES else None
            if span is not None and span >= timedelta(minutes=settings.WEBHOOK_DISABLE_AFTER_FAILING_MINUTES):
                minutes = int(span.total_seconds() // 60)
                over = f"{minutes} minute{'s' * (minutes != 1)}"
                reason = f"{failures} attempts in a row failed over {over} (last: {last})."
                endpoint_disable(endpoint, reason=reason, now=now)
    delivery.save(
        update_fields=["state", "delivered_at", "next_attempt_at", "last_status_code", "last_error", "first_attempt_at"]
    )


def _failing_for(endpoint, now) -> timedelta:
    """How long the last WEBHOOK_DISABLE_AFTER_FAILURES attempts (all failed) took. The turn-off
    also needs them to span WEBHOOK_DISABLE_AFTER_FAILING_MINUTES: a receiver down for a minute
    while events pour in fails many attempts at once and is not turned off for it (its
    deliveries retry); one that keeps failing is."""
    streak = WebhookAttempt.objects.filter(delivery__endpoint=endpoint).order_by("-attempted_at", "-id")
    first = streak.values_list("attempted_at", flat=True)[settings.WEBHOOK_DISABLE_AFTER_FAILURES - 1 :][:1]
    return now - first[0] if first else timedelta(0)


def endpoint_disable(endpoint, *, reason, now) -> bool:
    """Disable an enabled endpoint, saying why, and email the sub-account's owners and agency
    admins (on commit). Conditional: of two attempts disabling it at once, one does (one email)."""
    # disabled_notified_at cleared too: an endpoint turned on again some other way than enable()
    # (manage.endpoint_update) and failing again gets its own email.
    done = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_at=now, disabled_reason=reason[:300], disabled_notified_at=None
    )
    if done:
        transaction.on_commit(lambda: disabled_email_enqueue(endpoint.pk))
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason[:300]
    return bool(done)


def sweep():
    """Cron: enqueue every pending delivery that is due (a retry whose backoff ran out, or one
    whose worker died mid-attempt once its claim ran out), and send the turn-off emails whose
    job was lost."""
    now = timezone.now()
    due = WebhookDelivery.objects.due(now).order_by("next_attempt_at")
    enqueue(*due.values_list("pk", flat=True)[:SWEEP_BATCH])
    disabled_emails_sweep(now)


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
