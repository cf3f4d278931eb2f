"""In-memory provider for tests: records sends, produces no receipts by itself. Tests choose
what the provider does next with `script` (like Django's locmem outbox)."""

import threading
import time
import uuid
from concurrent.futures import Future

from messaging.providers import inventory
from messaging.providers.base import (
    NumberError,
    NumberNotFound,
    NumberSearch,
    NumberWebhooks,
    OutgoingSms,
    OwnedNumber,
    Provider,
    SendResult,
    send_with_retries,
)

outbox: list[OutgoingSms] = []
accepted: dict[tuple[str, str, str], str] = {}  # (to, from, body) → sid, for reconciliation
# Exceptions to raise for the next sends to a number: {"+1555…": [ProviderRejected(...)]}.
script: dict[str, list[Exception]] = {}
_lock = threading.Lock()
# Seconds each send takes (to let tests interleave other work with a running batch).
latency = {"seconds": 0.0}
# The account's numbers: sid → (number, webhooks). Tests may put numbers here to import.
account: dict[str, tuple[OwnedNumber, NumberWebhooks | None]] = {}
# Errors the next number operations raise, in order: [NumberError("…")].
number_script: list[Exception] = []

AUTH_TOKEN = "memory-provider-auth-token"  # noqa: S105 - tests only


def reset():
    with _lock:
        outbox.clear()
        accepted.clear()
        script.clear()
        latency["seconds"] = 0.0
        account.clear()
        number_script.clear()


def _scripted():
    with _lock:
        if number_script:
            raise number_script.pop(0)


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

    # --- numbers ------------------------------------------------------------------------------
    def search_numbers(self, query: NumberSearch):
        _scripted()
        with _lock:
            taken = {owned.number for owned, _ in account.values()}
        return inventory.available(query, taken=taken, seed="memory")

    def buy_number(self, number, *, webhooks, friendly_name=""):
        _scripted()
        with _lock:
            if any(owned.number == number for owned, _ in account.values()):
                raise NumberError(f"{number} is no longer available. Search again.")
            owned = OwnedNumber(number=number, sid="PN" + uuid.uuid4().hex, friendly_name=friendly_name)
            account[owned.sid] = (owned, webhooks)
        return owned

    def release_number(self, *, number, sid=""):
        _scripted()
        with _lock:
            sid = sid or next((s for s, (owned, _) in account.items() if owned.number == number), "")
            if account.pop(sid, None) is None:
                raise NumberNotFound(f"{number} is not on the account.")

    def list_numbers(self):
        _scripted()
        with _lock:
            return sorted((owned for owned, _ in account.values()), key=lambda n: n.number)

    def configure_number(self, *, sid, webhooks):
        _scripted()
        with _lock:
            if sid not in account:
                raise NumberNotFound("That number is not on the account.")
            owned = account[sid][0]
            account[sid] = (owned, webhooks)
        return owned
