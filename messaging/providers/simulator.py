"""The local carrier simulator (default for `make run`). It accepts every send, then — after
SIMULATOR_DELAY_SECONDS, from an RQ job — plays the carrier: posts signed status receipts
(`sent`, then `delivered` or `undelivered` with 30003/30004/30005/30006/30007/30008 at the
rates in SIMULATOR_RATES) and sometimes a STOP reply, to the app's own Twilio webhooks over
HTTP. So every rule can be seen working through the same code path as production."""

import hashlib
import json
import logging
import random
import uuid
from datetime import timedelta

import django_rq
import requests
from django.conf import settings
from django.urls import reverse

from messaging.phone import to_e164
from messaging.providers import inventory
from messaging.providers.base import (
    NumberError,
    NumberNotFound,
    NumberSearch,
    OutgoingSms,
    OwnedNumber,
    Provider,
    SendResult,
    sign,
)

log = logging.getLogger(__name__)
NUMBERS_KEY = "simulator:numbers"  # the simulated account's numbers: sid → JSON
SEEDED_KEY = "simulator:numbers:seeded"
# Numbers the simulated account already has when first used, so "Import from provider account"
# has something to import under `make run`.
ACCOUNT_AT_START = NumberSearch(country="US", area_code="737", limit=2)
ERROR_CODES = ("30003", "30004", "30005", "30006", "30007", "30008")


def _redis():
    return django_rq.get_connection("default")


def _key(to, from_, body):
    return "simulator:sent:" + hashlib.sha256(f"{to}|{from_}|{body}".encode()).hexdigest()


def plan_outcome(rng: random.Random, rates: dict) -> tuple[str, str, bool]:
    """(final status, error code, replies STOP?) for one message."""
    roll, edge = rng.random(), 0.0
    status, code = "delivered", ""
    for candidate in ERROR_CODES:
        edge += float(rates.get(candidate, 0))
        if roll < edge:
            status, code = "undelivered", candidate
            break
    stops = status == "delivered" and rng.random() < float(rates.get("stop", 0))
    return status, code, stops


def post_webhook(path: str, params: dict, auth_token: str, transport=None):
    """POST a signed Twilio-format webhook to this app. `transport(url, data, headers)` is
    requests.post by default; tests pass the Django test client."""
    url = settings.PUBLIC_BASE_URL + path
    headers = {"X-Twilio-Signature": sign(auth_token, url, params)}
    if transport is None:
        return requests.post(url, data=params, headers=headers, timeout=10)
    return transport(path, params, headers)


def play_carrier(sid: str, to: str, from_: str, transport=None):
    """The RQ job: what the carrier would report for this message."""
    rng = random.Random(sid)  # reproducible per message
    status, code, stops = plan_outcome(rng, settings.SIMULATOR_RATES)
    token = SimulatorProvider().auth_token
    base = {"MessageSid": sid, "AccountSid": "ACsimulator", "To": to, "From": from_}
    status_path = reverse("twilio_status")
    post_webhook(status_path, {**base, "MessageStatus": "sent"}, token, transport)
    final = {**base, "MessageStatus": status}
    if code:
        final["ErrorCode"] = code
    post_webhook(status_path, final, token, transport)
    if stops:
        # The simulated carrier does not answer keywords itself (no OptOutType): the app sends
        # the sub-account's opt-out confirmation, as it does for whatever Twilio leaves to it.
        reply = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "ACsimulator",
            "From": to,
            "To": from_,
            "Body": "STOP",
        }
        post_webhook(reverse("twilio_inbound"), reply, token, transport)


def place_missed_call(*, caller: str, to: str) -> str:
    """`make run`'s "Simulate a missed call": a call from `caller` to one of our numbers that
    nobody answers, reported a second later to the voice webhook as Twilio would (an RQ job).
    Raises InvalidPhoneNumber for a caller that is not a number. Returns the call id."""
    call_sid = "CA" + uuid.uuid4().hex
    django_rq.get_queue("default").enqueue_in(timedelta(seconds=1), play_missed_call, call_sid, to_e164(caller), to)
    return call_sid


def play_missed_call(call_sid: str, caller: str, to: str, transport=None):
    """The RQ job: Twilio's call-status callback for an unanswered call."""
    params = {"CallSid": call_sid, "AccountSid": "ACsimulator", "From": caller, "To": to, "CallStatus": "no-answer"}
    post_webhook(reverse("twilio_voice_status"), params, SimulatorProvider().auth_token, transport)


class SimulatorProvider(Provider):
    name = "simulator"

    @property
    def auth_token(self) -> str:
        return hashlib.sha256(("simulator:" + settings.SECRET_KEY).encode()).hexdigest()[:32]

    def send(self, sms: OutgoingSms) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        _redis().set(_key(sms.to, sms.from_, sms.body), sid, ex=86400)
        django_rq.get_queue("default").enqueue_in(
            timedelta(seconds=settings.SIMULATOR_DELAY_SECONDS), play_carrier, sid, sms.to, sms.from_
        )
        return SendResult(sid=sid)

    def find_sent(self, *, to, from_, body, after):
        sid = _redis().get(_key(to, from_, body))
        return sid.decode() if sid else None

    # --- numbers: a made-up account in Redis, shared by every process of `make run` ------------

    def _account(self) -> dict[str, dict]:
        redis = _redis()
        if redis.set(SEEDED_KEY, "1", nx=True):
            for n in inventory.available(ACCOUNT_AT_START, taken=set(), seed="simulator-account"):
                sid = "PN" + uuid.uuid4().hex
                entry = {"number": n.number, "friendly_name": inventory.friendly(n.number)}
                redis.hset(NUMBERS_KEY, sid, json.dumps(entry))
        return {sid.decode(): json.loads(raw) for sid, raw in redis.hgetall(NUMBERS_KEY).items()}

    def search_numbers(self, query):
        taken = {entry["number"] for entry in self._account().values()}
        return inventory.available(query, taken=taken, seed="simulator")

    def buy_number(self, number, *, webhooks, friendly_name=""):
        redis, claim = _redis(), f"{NUMBERS_KEY}:claim:{number}"
        # One buyer per number, even from two processes at once: the claim is a SET NX.
        if not redis.set(claim, "1", nx=True, ex=60):
            raise NumberError(f"{number} is no longer available. Search again.")
        try:
            if number in {e["number"] for e in self._account().values()}:
                raise NumberError(f"{number} is no longer available. Search again.")
            sid = "PN" + uuid.uuid4().hex
            entry = {"number": number, "friendly_name": friendly_name or inventory.friendly(number),
                     "sms_url": webhooks.sms_url, "voice_status_url": webhooks.voice_status_url}  # fmt: skip
            redis.hset(NUMBERS_KEY, sid, json.dumps(entry))
        finally:
            redis.delete(claim)
        return OwnedNumber(number=number, sid=sid, friendly_name=entry["friendly_name"])

    def release_number(self, *, number, sid=""):
        account = self._account()
        sid = sid if sid in account else next((s for s, e in account.items() if e["number"] == number), "")
        if not sid or not _redis().hdel(NUMBERS_KEY, sid):
            raise NumberNotFound(f"{number} is not on the account.")

    def list_numbers(self):
        found = [OwnedNumber(number=e["number"], sid=sid, friendly_name=e.get("friendly_name", ""))
                 for sid, e in self._account().items()]  # fmt: skip
        return sorted(found, key=lambda n: n.number)

    def configure_number(self, *, sid, webhooks):
        entry = self._account().get(sid)
        if entry is None:
            raise NumberNotFound("That number is not on the account.")
        entry |= {"sms_url": webhooks.sms_url, "voice_status_url": webhooks.voice_status_url}
        _redis().hset(NUMBERS_KEY, sid, json.dumps(entry))
        return OwnedNumber(number=entry["number"], sid=sid, friendly_name=entry.get("friendly_name", ""))
