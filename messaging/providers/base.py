import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from twilio.request_validator import RequestValidator

from messaging import storable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingSms:
    message_id: str
    to: str
    from_: str
    body: str
    status_callback: str


@dataclass(frozen=True)
class SendResult:
    sid: str


@dataclass(frozen=True)
class StatusReceipt:
    sid: str
    status: str  # Twilio's: queued, sending, sent, delivered, undelivered, failed
    error_code: str = ""
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundSms:
    sid: str
    from_: str
    to: str
    body: str
    opt_out_type: str = ""  # Twilio Advanced Opt-Out: STOP, START, HELP when it handled it
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class VoiceStatus:
    call_sid: str
    from_: str
    to: str
    status: str  # queued, ringing, in-progress, completed, busy, failed, no-answer, canceled
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NumberSearch:
    """A search for numbers to buy (R12): the provider's local numbers of `country`."""

    country: str = "US"
    area_code: str = ""
    contains: str = ""  # digits, or letters (a vanity pattern, as Twilio's keypad reads them)
    sms_enabled: bool = True
    limit: int = 20


@dataclass(frozen=True)
class AvailableNumber:
    number: str  # E.164
    locality: str = ""
    region: str = ""
    sms: bool = True
    voice: bool = True


@dataclass(frozen=True)
class OwnedNumber:
    """A number on the provider account: bought here, or already there (to import)."""

    number: str  # E.164
    sid: str
    friendly_name: str = ""
    sms: bool = True


@dataclass(frozen=True)
class NumberWebhooks:
    """Where the provider reaches us for a number: inbound texts and call status changes."""

    sms_url: str
    voice_status_url: str


class NumberError(Exception):
    """The provider could not search, buy, release or configure a number. `reason` is a
    sentence for the user; nothing was changed on our side."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NumberNotFound(NumberError):
    """The number (or its sid) is not on the provider account (any more)."""


class ProviderRejected(Exception):
    """The provider refused this one message (e.g. 21211 invalid number, 21610 unsubscribed).
    It was not sent; the rest of the batch goes on."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = str(code)
        self.reason = reason


class ProviderRetryable(Exception):
    """Refused before processing (HTTP 429 / 20429, connection failed before a response):
    nothing was sent, so trying again later is safe."""


class ProviderOutcomeUnknown(Exception):
    """The request may have reached the provider (e.g. read timeout): it must not be re-sent
    blindly; the message is marked `unknown` and reconciled."""


class InvalidSignature(Exception):
    pass


class Provider:
    """The interface. Webhook parsing verifies X-Twilio-Signature against the public URL
    (PUBLIC_BASE_URL + path, so it works behind a proxy) with `auth_token`."""

    name = "base"

    @property
    def auth_token(self) -> str:
        raise NotImplementedError

    def send(self, sms: OutgoingSms) -> SendResult:
        raise NotImplementedError

    def send_many(self, batch: list[OutgoingSms], *, width: int) -> list:
        """Send a wave, at most `width` calls in flight, each with the retry policy: one outcome
        per message, in order — a SendResult, or the ProviderRejected / ProviderRetryable /
        ProviderOutcomeUnknown it ended with. No database access here. This default runs `send`
        in a thread pool kept for the process (its connections stay open between waves);
        a provider with an asynchronous client overrides it."""
        return list(_pool(width).map(lambda sms: send_with_retries(self.send, sms), batch))

    def start_many(self, batch: list[OutgoingSms], *, width: int) -> Future:
        """`send_many` without waiting for it: the wave's outcomes as a future, so dispatch can
        record the previous wave while these calls are in flight.
        This default runs `send_many` on a thread kept for the process."""
        return _pool(2, "provider-wave").submit(self.send_many, batch, width=width)

    def find_sent(self, *, to: str, from_: str, body: str, after) -> str | None:
        """Reconciliation: the sid of a message the provider accepted, or None."""
        raise NotImplementedError

    # --- numbers (R12: provisioning goes through the provider) ------------------------------
    def search_numbers(self, query: NumberSearch) -> list[AvailableNumber]:
        """Numbers the provider offers for sale. Raises NumberError."""
        raise NotImplementedError

    def buy_number(self, number: str, *, webhooks: NumberWebhooks, friendly_name: str = "") -> OwnedNumber:
        """Buy `number` for the account, its webhooks set to ours. Raises NumberError (e.g. it
        was bought by someone else meanwhile)."""
        raise NotImplementedError

    def release_number(self, *, number: str, sid: str = "") -> None:
        """Give the number back to the provider. A number without a sid (typed in before
        provisioning went through the provider) is found by its E.164 form. Raises NumberNotFound
        when it is not on the account, NumberError otherwise."""
        raise NotImplementedError

    def list_numbers(self) -> list[OwnedNumber]:
        """Every number on the provider account (for import). Raises NumberError."""
        raise NotImplementedError

    def configure_number(self, *, sid: str, webhooks: NumberWebhooks) -> OwnedNumber:
        """Point an account's number at our webhooks (on import). Raises NumberError."""
        raise NotImplementedError

    # --- webhooks (Twilio's wire format) ----------------------------------------------------
    def verify(self, request) -> dict:
        """The signed parameters, with the characters PostgreSQL cannot store removed (after
        the check, which covers them as sent): the carrier's text is never refused, since an
        inbound STOP with a stray NUL is still an opt-out (R3)."""
        url = settings.PUBLIC_BASE_URL + request.get_full_path()
        params = request.POST.dict()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not RequestValidator(self.auth_token).validate(url, params, signature):
            raise InvalidSignature(url)
        return {storable.strip(name): storable.strip(value) for name, value in params.items()}

    def parse_status(self, request) -> StatusReceipt:
        p = self.verify(request)
        return StatusReceipt(
            sid=p.get("MessageSid") or p.get("SmsSid", ""),
            status=(p.get("MessageStatus") or p.get("SmsStatus", "")).lower(),
            error_code=p.get("ErrorCode", "") or "",
            raw=p,
        )

    def parse_inbound(self, request) -> InboundSms:
        p = self.verify(request)
        return InboundSms(
            sid=p.get("MessageSid") or p.get("SmsSid", ""),
            from_=p.get("From", ""),
            to=p.get("To", ""),
            body=p.get("Body", ""),
            opt_out_type=(p.get("OptOutType") or "").upper(),
            raw=p,
        )

    def parse_voice(self, request) -> VoiceStatus:
        p = self.verify(request)
        return VoiceStatus(
            call_sid=p.get("CallSid", ""),
            from_=p.get("From", ""),
            to=p.get("To", ""),
            status=p.get("CallStatus", "").lower(),
            raw=p,
        )


def retry_delays():
    """429s and refused connections: backoff of SMS_RETRY_BACKOFF_SECONDS × 1, 2, 4, then give up."""
    base = settings.SMS_RETRY_BACKOFF_SECONDS
    return (base, base * 2, base * 4, None)


def outcome_of_unexpected(sms: OutgoingSms, exc: Exception) -> "ProviderOutcomeUnknown":
    log.exception("provider raised unexpectedly for %s", sms.message_id, exc_info=exc)
    return ProviderOutcomeUnknown(repr(exc))  # it may have been sent: never re-sent blindly


def send_with_retries(send, sms: OutgoingSms):
    """One message with the retry policy (runs in a pool thread: only the provider call)."""
    for attempt, delay in enumerate(retry_delays()):
        try:
            return send(sms)
        except ProviderRetryable as exc:
            if delay is None:
                return exc
            log.info("provider busy (attempt %s), retrying in %ss: %s", attempt + 1, delay, exc)
            time.sleep(delay)
        except (ProviderRejected, ProviderOutcomeUnknown) as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - an unexpected error: outcome unknown
            return outcome_of_unexpected(sms, exc)


_pools: dict[tuple[int, int, str], ThreadPoolExecutor] = {}


def _pool(width: int, name: str = "provider") -> ThreadPoolExecutor:
    """One pool per process, width and use: a forked work-horse does not inherit its parent's threads."""
    key = (os.getpid(), width, name)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(max_workers=width, thread_name_prefix=name)
    return _pools[key]


def sign(auth_token: str, url: str, params: dict) -> str:
    """X-Twilio-Signature for a webhook (used by the simulator and by tests)."""
    return RequestValidator(auth_token).compute_signature(url, params)
