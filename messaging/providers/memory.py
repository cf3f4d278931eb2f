"""In-memory provider for tests: records sends, produces no receipts by itself. Tests choose
what the provider does next with `script` (like Django's locmem outbox)."""

import threading
import uuid

from messaging.providers.base import OutgoingSms, Provider, SendResult

outbox: list[OutgoingSms] = []
# Exceptions to raise for the next sends to a number: {"+1555…": [ProviderRejected(...)]}.
script: dict[str, list[Exception]] = {}
_lock = threading.Lock()

AUTH_TOKEN = "memory-provider-auth-token"


def reset():
    with _lock:
        outbox.clear()
        script.clear()


class MemoryProvider(Provider):
    name = "memory"

    @property
    def auth_token(self) -> str:
        return AUTH_TOKEN

    def send(self, sms: OutgoingSms) -> SendResult:
        with _lock:
            planned = script.get(sms.to)
            if planned:
                raise planned.pop(0)
            outbox.append(sms)
        return SendResult(sid="SM" + uuid.uuid4().hex)

    def find_sent(self, *, to, from_, body, after):
        return None  # the memory provider keeps no sids for reconciliation
