"""SMS providers behind one small interface, chosen by `SMS_BACKEND` like EMAIL_BACKEND.

All three speak Twilio's wire format (form-encoded webhooks signed with X-Twilio-Signature),
so the webhook views are the same for each; they differ in how they send and which auth token
signs their webhooks.
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from messaging.providers.base import (
    AvailableNumber,
    InboundSms,
    InvalidSignature,
    NumberError,
    NumberNotFound,
    NumberSearch,
    NumberWebhooks,
    OutgoingSms,
    OwnedNumber,
    Provider,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderRetryable,
    SendResult,
    StatusReceipt,
    VoiceStatus,
)

__all__ = [
    "AvailableNumber",
    "InboundSms",
    "InvalidSignature",
    "NumberError",
    "NumberNotFound",
    "NumberSearch",
    "NumberWebhooks",
    "OutgoingSms",
    "OwnedNumber",
    "Provider",
    "ProviderOutcomeUnknown",
    "ProviderRejected",
    "ProviderRetryable",
    "SendResult",
    "StatusReceipt",
    "VoiceStatus",
    "get_provider",
]

BACKENDS = {
    "twilio": "messaging.providers.twilio.TwilioProvider",
    "simulator": "messaging.providers.simulator.SimulatorProvider",
    "memory": "messaging.providers.memory.MemoryProvider",
}


@cache
def _load(name: str) -> Provider:
    try:
        path = BACKENDS[name]
    except KeyError:
        raise ValueError(f"SMS_BACKEND={name!r}: choose one of {', '.join(BACKENDS)}") from None
    return import_string(path)()


def preload_backend() -> None:
    """Import the configured provider's module without making an instance (the RQ worker, before
    it forks work-horses: see messaging.worker.preload)."""
    import_string(BACKENDS.get(settings.SMS_BACKEND, BACKENDS["simulator"]))


def get_provider() -> Provider:
    return _load(settings.SMS_BACKEND)
