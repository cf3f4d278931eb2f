"""Twilio, through the real SDK. `TWILIO_API_BASE_URL` points it at a Twilio-compatible server
(the benchmark's loopback stub, a proxy).

Sends go through the SDK's asynchronous client (`AsyncTwilioHttpClient`, aiohttp) by default:
one event loop and one connection pool per process, kept open from wave to wave, with up to
SMS_MAX_CONCURRENCY requests in flight — about 0.2 ms of CPU a request against the sync
client's 0.9 ms, so throughput holds when Twilio takes 100–300 ms to answer.
`TWILIO_HTTP_CLIENT=sync` uses the SDK's requests-based client in a thread pool instead
(docs/BENCHMARKS.md measures both)."""

import asyncio
import atexit
import contextlib
import json
import os
import threading
from dataclasses import replace

import aiohttp
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from messaging.providers.base import (
    AvailableNumber,
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
    outcome_of_unexpected,
    retry_delays,
)

TIMEOUT_SECONDS = 15

# Twilio refuses too many concurrent requests with HTTP 429 / error 20429: never processed.
RETRYABLE_CODES = {20429}


def never_reached_twilio(exc: requests.RequestException) -> bool:
    """True when the request provably never arrived: the connection was not even made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


# Twilio's default keyword handling on long codes and toll-free numbers (without Advanced
# Opt-Out): a message that is exactly one of these words gets Twilio's own reply, and opt-outs
# put the number on Twilio's block list. Twilio sends OptOutType only with Advanced Opt-Out, so
# this is how the app knows Twilio already replied (R3: exactly one confirmation). Words not
# here (REVOKE, OPTOUT, "stop please", "remove me", PARAR, ARRET) are answered by the app.
# HELP and INFO are left to the app on purpose: Twilio's default HELP reply ("Reply STOP to
# unsubscribe. Msg&Data Rates May Apply.") names neither the business nor a support contact,
# which a HELP reply must (docs/KEYWORDS.md), so the sub-account's own HELP reply follows it.
# With Advanced Opt-Out, Twilio sends OptOutType=HELP with the reply configured there: the
# app then does not add its own.
TWILIO_AUTO_REPLIES = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "STOP"),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "START"),
}


class TwilioProvider(Provider):
    name = "twilio"

    def parse_inbound(self, request):
        inbound = super().parse_inbound(request)
        if inbound.opt_out_type:
            return inbound
        replied = TWILIO_AUTO_REPLIES.get(inbound.body.strip().upper(), "")
        return replace(inbound, opt_out_type=replied) if replied else inbound

    def __init__(self):
        self._clients: dict[int, Client] = {}  # per process: a forked child never shares sockets
        self._loops: dict[int, tuple[asyncio.AbstractEventLoop, Client]] = {}

    @property
    def auth_token(self) -> str:
        return settings.TWILIO_AUTH_TOKEN

    def _new_client(self, http) -> Client:
        client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
        if settings.TWILIO_API_BASE_URL:
            client.api.base_url = settings.TWILIO_API_BASE_URL
            client.messaging.base_url = settings.TWILIO_API_BASE_URL  # registration (issue 17)
        return client

    @property
    def client(self) -> Client:
        """The SDK's synchronous client, its connection pool sized for SMS_MAX_CONCURRENCY threads."""
        pid = os.getpid()
        if pid not in self._clients:
            # The SDK's own retries are off: we decide what is safe to retry.
            http = TwilioHttpClient(timeout=TIMEOUT_SECONDS, pool_connections=True, max_retries=0)
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, settings.SMS_MAX_CONCURRENCY))
            http.session.mount("https://", adapter)
            http.session.mount("http://", adapter)
            self._clients[pid] = self._new_client(http)
        return self._clients[pid]

    def send(self, sms: OutgoingSms) -> SendResult:
        try:
            message = self.client.messages.create(
                to=sms.to, from_=sms.from_, body=sms.body, status_callback=sms.status_callback
            )
        except TwilioRestException as exc:
            raise _refusal(exc) from exc
        except requests.RequestException as exc:
            if never_reached_twilio(exc):
                raise ProviderRetryable(str(exc)) from exc
            # A read timeout or a connection dropped mid-request: it may have been processed.
            raise ProviderOutcomeUnknown(str(exc)) from exc
        return SendResult(sid=message.sid)

    # --- the asynchronous client ------------------------------------------------------------

    def send_many(self, batch: list[OutgoingSms], *, width: int) -> list:
        if settings.TWILIO_HTTP_CLIENT == "sync":
            return super().send_many(batch, width=width)
        return self.start_many(batch, width=width).result()

    def start_many(self, batch: list[OutgoingSms], *, width: int):
        if settings.TWILIO_HTTP_CLIENT == "sync":
            return super().start_many(batch, width=width)
        loop, client = self._async_runtime()
        return asyncio.run_coroutine_threadsafe(self._send_wave(client, batch, width), loop)

    def _async_runtime(self):
        """This process's event loop (in a daemon thread) and async client, made on first use."""
        pid = os.getpid()
        if pid not in self._loops:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="twilio-async", daemon=True).start()

            async def make_client():  # aiohttp's session must be made inside its loop
                http = AsyncTwilioHttpClient(pool_connections=False, timeout=TIMEOUT_SECONDS)
                http.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60))
                return self._new_client(http)

            client = asyncio.run_coroutine_threadsafe(make_client(), loop).result()
            self._loops[pid] = (loop, client)
            atexit.register(_close, loop, client)
        return self._loops[pid]

    async def _send_wave(self, client: Client, batch: list[OutgoingSms], width: int) -> list:
        in_flight = asyncio.Semaphore(max(1, width))
        return await asyncio.gather(*(self._send_one(client, sms, in_flight) for sms in batch))

    async def _send_one(self, client: Client, sms: OutgoingSms, in_flight: asyncio.Semaphore):
        """The retry policy of `base.send_with_retries`, awaiting instead of blocking a thread."""
        async with in_flight:
            for delay in retry_delays():
                try:
                    message = await client.messages.create_async(
                        to=sms.to, from_=sms.from_, body=sms.body, status_callback=sms.status_callback
                    )
                    return SendResult(sid=message.sid)
                except TwilioRestException as exc:
                    outcome = _refusal(exc)
                except aiohttp.ClientConnectorError as exc:  # the connection was never made
                    outcome = ProviderRetryable(str(exc))
                except (TimeoutError, aiohttp.ClientError) as exc:  # it may have been processed
                    return ProviderOutcomeUnknown(repr(exc))
                except Exception as exc:  # noqa: BLE001 - unexpected: outcome unknown, never re-sent
                    return outcome_of_unexpected(sms, exc)
                if not isinstance(outcome, ProviderRetryable) or delay is None:
                    return outcome
                await asyncio.sleep(delay)

    def find_sent(self, *, to, from_, body, after):
        for message in self.client.messages.list(to=to, from_=from_, date_sent_after=after, limit=50):
            if message.body == body:
                return message.sid
        return None

    # --- numbers (R12), through the SDK's synchronous client: a person waits on each call ----

    def search_numbers(self, query: NumberSearch) -> list[AvailableNumber]:
        criteria = {"sms_enabled": True} if query.sms_enabled else {}
        if query.area_code:
            criteria["area_code"] = int(query.area_code)
        if query.contains:
            criteria["contains"] = query.contains
        with _number_errors():
            found = self.client.available_phone_numbers(query.country).local.list(limit=query.limit, **criteria)
        return [
            AvailableNumber(
                number=n.phone_number, locality=n.locality or "", region=n.region or "",
                sms=_capable(n.capabilities, "sms"), voice=_capable(n.capabilities, "voice"),
            )
            for n in found
        ]  # fmt: skip

    def buy_number(self, number: str, *, webhooks: NumberWebhooks, friendly_name: str = "") -> OwnedNumber:
        fields = _webhook_fields(webhooks) | ({"friendly_name": friendly_name} if friendly_name else {})
        with _number_errors():
            bought = self.client.incoming_phone_numbers.create(phone_number=number, **fields)
        return _owned(bought)

    def release_number(self, *, number: str, sid: str = "") -> None:
        with _number_errors():
            if not sid:
                found = self.client.incoming_phone_numbers.list(phone_number=number, limit=1)
                if not found:
                    raise NumberNotFound(f"{number} is not on the Twilio account.")
                sid = found[0].sid
            self.client.incoming_phone_numbers(sid).delete()

    def list_numbers(self) -> list[OwnedNumber]:
        with _number_errors():
            return sorted((_owned(n) for n in self.client.incoming_phone_numbers.list()), key=lambda n: n.number)

    def configure_number(self, *, sid: str, webhooks: NumberWebhooks) -> OwnedNumber:
        with _number_errors():
            return _owned(self.client.incoming_phone_numbers(sid).update(**_webhook_fields(webhooks)))


def _webhook_fields(webhooks: NumberWebhooks) -> dict:
    """A number's webhooks: its inbound texts (`sms_url`) and its call status changes
    (`status_callback`, where a missed call is seen). `voice_url` is left as it is: it must
    answer with call instructions, and an empty answer would pick up and hang up every call, so
    no call would be missed and the missed-call text back would never go."""
    return {"sms_url": webhooks.sms_url, "sms_method": "POST",
            "status_callback": webhooks.voice_status_url, "status_callback_method": "POST"}  # fmt: skip


def _capable(capabilities, what: str) -> bool:
    """Twilio spells them "SMS"/"MMS" for available numbers and "sms"/"mms" for owned ones."""
    return any(k.lower() == what and bool(v) for k, v in (capabilities or {}).items())


def _owned(instance) -> OwnedNumber:
    return OwnedNumber(number=instance.phone_number, sid=instance.sid, friendly_name=instance.friendly_name or "",
                       sms=_capable(instance.capabilities, "sms") if instance.capabilities else True)  # fmt: skip


@contextlib.contextmanager
def _number_errors():
    """Twilio's refusals and unreachability as NumberError, in words a user can act on."""
    try:
        yield
    except TwilioException as exc:
        status, code, message = _error_of(exc)
        if status == 404 or code == 20404:
            raise NumberNotFound("That number is not on the Twilio account.") from exc
        if code == 21422:
            raise NumberError("That number is no longer available. Search again.") from exc
        raise NumberError(f"Twilio refused: {message or status}") from exc
    except requests.RequestException as exc:
        raise NumberError("Twilio did not answer. Try again in a moment.") from exc


def _error_of(exc: TwilioException) -> tuple[int, int | None, str]:
    """(HTTP status, Twilio error code, message) of an error answer. A list call's page that is
    not a 200 raises a plain TwilioException("Unable to fetch page", response), not a
    TwilioRestException: its code and message are read from the response."""
    if isinstance(exc, TwilioRestException):
        return exc.status, exc.code, exc.msg
    response = exc.args[1] if len(exc.args) > 1 else None
    try:
        payload = json.loads(response.text)
    except (AttributeError, TypeError, ValueError):
        payload = {}
    return getattr(response, "status_code", 0), payload.get("code"), payload.get("message", "")


def _refusal(exc: TwilioRestException) -> Exception:
    """What an error answer from Twilio means for the message."""
    if exc.status == 429 or exc.code in RETRYABLE_CODES:
        return ProviderRetryable(str(exc))
    if exc.status >= 500:
        return ProviderOutcomeUnknown(f"Twilio answered {exc.status}")
    return ProviderRejected(str(exc.code or exc.status), exc.msg or "Rejected by Twilio")


def _close(loop, client) -> None:
    """At exit: close the pooled connections (aiohttp warns about a session left open)."""
    with contextlib.suppress(Exception):  # the process is ending either way
        asyncio.run_coroutine_threadsafe(client.http_client.session.close(), loop).result(timeout=2)
