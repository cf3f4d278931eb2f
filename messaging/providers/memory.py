"""In-memory provider for tests: records sends, produces no receipts by itself. Tests choose
what the provider does next with `script` (like Django's locmem outbox)."""

import threading
import time
import uuid

from messaging.providers.base import OutgoingSms, Provider, SendResult

outbox: list[OutgoingSms] = []
accepted: dict[tuple[str, str, str], str] = {}  # (to, from, body) → sid, for reconciliation
# Exceptions to raise for the next sends to a number: {"+1555…": [ProviderRejected(...)]}.
script: dict[str, list[Exception]] = {}
_lock = threading.Lock()
# Seconds each send takes (to let tests interleave other work with a running batch).
latency = {"seconds": 0.0}

AUTH_TOKEN = "memory-provider-auth-token"  # noqa: S105 - tests only


def reset():
    with _lock:
        outbox.clear()
        accepted.clear()
        script.clear()
        latency["seconds"] = 0.0


class MemoryProvider(Provider):
    name = "memory"

    @property
    def auth_token(self) -> str:
        return AUTH_TOKEN

    def send(self, sms: OutgoingSms) -> SendResult:
        if latency["seconds"]:
            time.sleep(latency["seconds"])
        with _lock:
            planned = script.get(sms.to)
            if planned:
                raise planned.pop(0)
            outbox.append(sms)
            sid = accepted[(sms.to, sms.from_, sms.body)] = "SM" + uuid.uuid4().hex
        return SendResult(sid=sid)

    def find_sent(self, *, to, from_, body, after):
        return accepted.get((to, from_, body))
