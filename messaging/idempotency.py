"""`Idempotency-Key` for API POSTs, as Stripe does it: the same key with the same request
within 24 hours gets the first answer again (status and body, with `Idempotent-Replayed:
true`); the same key with another request is refused (`KeyReused`, a 409).

The key's row is inserted first, in the transaction that then runs the request, and its answer
is saved in that same transaction. Two concurrent requests with one key therefore cannot both
run: on PostgreSQL the second INSERT waits on the unique index until the first commits, then
fails and reads the committed answer (a replay); on SQLite the second cannot even begin its
transaction until the first ends. A request that fails (an error raised, a 5xx) rolls its key
back with its work, so the client's retry with the same key runs it afresh."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from messaging.models import ApiKey, IdempotencyKey

log = logging.getLogger(__name__)

KEPT_FOR = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"


class KeyReused(Exception):
    """This key was used in the last 24 hours with a different request."""


def run_once(*, api_key: ApiKey, key: str, fingerprint: str, run) -> HttpResponse:
    """`run()`'s answer, or the answer it gave the first time for this key."""
    now = timezone.now()
    with transaction.atomic():
        record = _claim(api_key, key, fingerprint, now)
        if record.response_status is not None:
            return _replay(record)
        response = run()
        if response.status_code >= 500:
            transaction.set_rollback(True)  # nothing learned: let a retry run it again
            return response
        record.response_status = response.status_code
        record.response_body = response.content.decode()
        record.save(update_fields=["response_status", "response_body"])
    return response


def _claim(api_key, key, fingerprint, now) -> IdempotencyKey:
    """A new row for this key (locked by this transaction until it ends), or the committed
    one of the request that used it first."""
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    sub_account_id=api_key.sub_account_id, api_key=api_key, key=key,
                    request_hash=fingerprint, created_at=now,
                )  # fmt: skip
        except IntegrityError:
            pass  # used before, or by a concurrent request that has committed meanwhile
        existing = IdempotencyKey.objects.filter(api_key=api_key, key=key).first()
        if existing is None:
            continue  # purged meanwhile: take it
        if existing.created_at <= now - KEPT_FOR:
            # Expired: free for a new request. Conditional, so of two requests only one deletes.
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.request_hash != fingerprint:
            raise KeyReused(key)
        return existing
    raise KeyReused(key)  # expired and re-taken concurrently, twice: not worth a fourth try


def _replay(record: IdempotencyKey) -> HttpResponse:
    log.info("Idempotency-Key %r of API key %s replayed (%s)", record.key, record.api_key_id, record.response_status)
    response = HttpResponse(record.response_body, status=record.response_status, content_type="application/json")
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_keys_purge() -> int:
    """Cron: forget keys older than 24 hours."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
    return deleted
