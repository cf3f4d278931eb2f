"""API keys: one sub-account each, shown once when created, stored only as a SHA-256 hash."""

import hashlib
import logging
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import SubAccount
from messaging.models import ApiKey

log = logging.getLogger(__name__)

KEY_PREFIX = "tw_"
PREFIX_LENGTH = 10  # shown in lists so a key can be recognised without being stored
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
MAX_KEY_LENGTH = 200


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, sub_account: SubAccount, name: str, user=None) -> tuple[ApiKey, str]:
    """A new key and its raw value. The raw value is not stored anywhere: show it once."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        sub_account=sub_account,
        name=(name or "").strip()[:100] or "API key",
        prefix=raw[:PREFIX_LENGTH],
        key_hash=_hash(raw),
        created_by=user,
    )
    return key, raw


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key with this value, or None. Looked up by its hash, so comparing happens on
    digests in the database and the time taken says nothing about the key's characters."""
    if not raw or len(raw) > MAX_KEY_LENGTH or not raw.startswith(KEY_PREFIX):
        return None
    key = ApiKey.objects.select_related("sub_account").filter(key_hash=_hash(raw), revoked_at__isnull=True).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        # Conditional update: a burst of concurrent requests writes the row once, not per request.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_EVERY)
        if ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now):
            key.last_used_at = now
    return key


def api_key_revoke(*, key: ApiKey, user=None) -> bool:
    """Revoke a key for good (idempotent). False when it was already revoked."""
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        key.revoked_at = now
        log.info("API key %s (%s…) of sub-account %s revoked by %s", key.pk, key.prefix, key.sub_account_id, user)
    return bool(revoked)
