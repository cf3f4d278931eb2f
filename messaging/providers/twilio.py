"""Twilio, through the real SDK. `TWILIO_API_BASE_URL` points it at a Twilio-compatible server
(the benchmark's loopback stub, a proxy)."""

from dataclasses import replace

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from messaging.providers.base import (
    OutgoingSms,
    Provider,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderRetryable,
    SendResult,
)

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
# here (REVOKE, OPTOUT, "stop please", "remove me") are answered by the app.
TWILIO_AUTO_REPLIES = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "STOP"),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "START"),
    **dict.fromkeys(("HELP", "INFO"), "HELP"),
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
        self._client = None

    @property
    def auth_token(self) -> str:
        return settings.TWILIO_AUTH_TOKEN

    @property
    def client(self) -> Client:
        if self._client is None:
            # The SDK's own retries are off: we decide what is safe to retry.
            http = TwilioHttpClient(timeout=15, pool_connections=True, max_retries=0)
            client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
            if settings.TWILIO_API_BASE_URL:
                client.api.base_url = settings.TWILIO_API_BASE_URL
            self._client = client
        return self._client

    def send(self, sms: OutgoingSms) -> SendResult:
        try:
            message = self.client.messages.create(
                to=sms.to, from_=sms.from_, body=sms.body, status_callback=sms.status_callback
            )
        except TwilioRestException as exc:
            if exc.status == 429 or exc.code in RETRYABLE_CODES:
                raise ProviderRetryable(str(exc)) from exc
            if exc.status >= 500:
                raise ProviderOutcomeUnknown(f"Twilio answered {exc.status}") from exc
            raise ProviderRejected(str(exc.code or exc.status), exc.msg or "Rejected by Twilio") from exc
        except requests.RequestException as exc:
            if never_reached_twilio(exc):
                raise ProviderRetryable(str(exc)) from exc
            # A read timeout or a connection dropped mid-request: it may have been processed.
            raise ProviderOutcomeUnknown(str(exc)) from exc
        return SendResult(sid=message.sid)

    def find_sent(self, *, to, from_, body, after):
        for message in self.client.messages.list(to=to, from_=from_, date_sent_after=after, limit=50):
            if message.body == body:
                return message.sid
        return None
