"""In-memory provider for tests: records sends, produces no receipts by itself. Tests choose
what the provider does next with `script` (like Django's locmem outbox)."""

import threading
import time
import uuid
from concurrent.futures import Future

from messaging.providers.base import OutgoingSms, Provider, SendResult, send_with_retries

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

    def send_many(self, batch: list[OutgoingSms], *, width: int) -> list:
        if latency["seconds"]:  # calls that take time: in flight together, as a real provider's
            return super().send_many(batch, width=width)
        return [send_with_retries(self.send, sms) for sms in batch]  # instant answers: no thread hops

    def start_many(self, batch: list[OutgoingSms], *, width: int) -> Future:
        if latency["seconds"]:
            return super().start_many(batch, width=width)
        done = Future()
        done.set_result(self.send_many(batch, width=width))
        return done

    def find_sent(self, *, to, from_, body, after):
        return accepted.get((to, from_, body))
