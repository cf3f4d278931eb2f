"""TwilioProvider through the real SDK, against a Twilio-compatible server on 127.0.0.1: what
each answer of Twilio's becomes (sent, retryable, rejected with its code, outcome unknown),
reconciliation, and the send pipeline end to end."""

import re
import socket
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging import dispatch, providers, services
from messaging.models import Contact, Message, Status
from messaging.providers import OutgoingSms, ProviderOutcomeUnknown, ProviderRejected, ProviderRetryable
from messaging.providers.twilio import TwilioProvider
from tests.twilio_stub import INVALID_NUMBER, TOO_MANY_REQUESTS, UNSUBSCRIBED, Delay, running_stub

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TO, FROM = "+12125550142", "+16465550101"


@pytest.fixture
def stub(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = "stub-auth-token"
    # get_provider() keeps one provider (and its SDK client) per backend: start from none.
    providers._load.cache_clear()
    with running_stub() as stub:
        settings.TWILIO_API_BASE_URL = stub.url
        yield stub
    providers._load.cache_clear()


def sms(body="Hello from Sunrise Dental", to=TO):
    return OutgoingSms("message-id", to, FROM, body, "https://app.example/webhooks/twilio/status")


def test_accepted_send_returns_twilios_sid_and_posts_the_message(stub):
    result = TwilioProvider().send(sms())
    [received] = stub.received
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.sid) and result.sid == received["sid"]
    assert received["account_sid"] == ACCOUNT_SID
    assert (received["to"], received["from"], received["body"]) == (TO, FROM, "Hello from Sunrise Dental")
    assert received["status_callback"] == "https://app.example/webhooks/twilio/status"


def test_429_too_many_requests_is_retryable_and_nothing_was_sent(stub):
    stub.script[TO] = [TOO_MANY_REQUESTS]
    with pytest.raises(ProviderRetryable):
        TwilioProvider().send(sms())
    assert stub.received == []


@pytest.mark.parametrize("error", [INVALID_NUMBER, UNSUBSCRIBED], ids=["21211", "21610"])
def test_refusal_of_one_message_is_rejected_with_twilios_code(stub, error):
    stub.script[TO] = [error]
    with pytest.raises(ProviderRejected) as raised:
        TwilioProvider().send(sms())
    assert raised.value.code == str(error.code)
    assert error.message in raised.value.reason
    assert stub.received == []


def test_connection_refused_is_retryable(stub, settings):
    with socket.socket() as sock:  # a port nothing listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(ProviderRetryable):
        TwilioProvider().send(sms())


def test_read_timeout_is_outcome_unknown_and_reconciliation_finds_the_message(stub, settings):
    """Twilio took the message but the answer never came in time: it must not be re-sent
    blindly (it was in fact sent); find_sent recovers its sid."""
    settings.TWILIO_HTTP_TIMEOUT = 0.5
    provider = TwilioProvider()
    if provider.client.http_client.timeout != 0.5:
        pytest.skip("TwilioProvider's HTTP timeout is fixed (15 s); needs a TWILIO_HTTP_TIMEOUT setting")
    stub.script[TO] = [Delay(5)]
    before = timezone.now() - timedelta(seconds=1)
    with pytest.raises(ProviderOutcomeUnknown):
        provider.send(sms())
    [received] = stub.received
    assert provider.find_sent(to=TO, from_=FROM, body=sms().body, after=before) == received["sid"]


def test_find_sent_returns_the_sid_of_the_matching_message(stub):
    provider = TwilioProvider()
    before = timezone.now() - timedelta(seconds=1)
    provider.send(sms("First"))
    second = provider.send(sms("Second"))
    provider.send(sms("Second", to="+12125550143"))
    assert provider.find_sent(to=TO, from_=FROM, body="Second", after=before) == second.sid
    assert provider.find_sent(to=TO, from_=FROM, body="Never sent", after=before) is None
    assert provider.find_sent(to=TO, from_=FROM, body="Second", after=before + timedelta(hours=1)) is None


# --- The pipeline end to end: messages_send → dispatch_batch → Twilio (the stub) ------------


def send_to(world, phones):
    contacts = [Contact.objects.create(sub_account=world.a1, phone=p, consent="granted") for p in phones]
    messages = services.messages_send(sub_account=world.a1, contacts=contacts, body="Spring cleaning", source="bulk")
    dispatch.dispatch_batch([str(m.pk) for m in messages])
    return {m.to_number: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}


@pytest.mark.django_db
def test_dispatch_sends_through_twilio_and_records_its_sid(world, stub, settings):
    message = send_to(world, [TO])[TO]
    [received] = stub.received
    assert message.status == Status.SENT and message.provider_sid == received["sid"] and message.sent_at
    assert (received["to"], received["from"], received["body"]) == (TO, "+16465550101", message.body_sent)
    assert received["status_callback"] == settings.PUBLIC_BASE_URL + reverse("twilio_status")


@pytest.mark.django_db
def test_dispatch_fails_only_the_number_twilio_rejects(world, stub):
    invalid = "+12125550199"
    stub.script[invalid] = [INVALID_NUMBER]
    by_number = send_to(world, [TO, invalid])
    assert by_number[invalid].status == Status.FAILED and by_number[invalid].error_code == "21211"
    assert by_number[invalid].failure_reason.startswith("Rejected by the carrier (21211)")
    assert by_number[TO].status == Status.SENT
    assert [r["sid"] for r in stub.received] == [by_number[TO].provider_sid]


# --- R3: Twilio answers single standard keywords itself ---------------------------------------


@pytest.fixture
def twilio_inbound(settings, world, client):
    from tests.messaging.helpers import post_signed

    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_AUTH_TOKEN = "stub-auth-token"
    providers._load.cache_clear()
    contact = Contact.objects.create(sub_account=world.a1, phone="+12125550177", consent="granted")

    def _text(body, sid):
        params = {"MessageSid": sid, "From": contact.phone, "To": FROM, "Body": body}
        assert post_signed(client, "/webhooks/twilio/inbound", params, token="stub-auth-token").status_code == 200
        contact.refresh_from_db()
        return list(contact.messages.filter(source="keyword_reply").values_list("body", flat=True))

    yield _text
    providers._load.cache_clear()


@pytest.mark.parametrize("body", ["STOP", " stop ", "Cancel", "END", "quit", "STOPALL", "unsubscribe"])
def test_r3_twilio_already_confirmed_a_single_standard_keyword(twilio_inbound, body):
    assert twilio_inbound(body, "SMin1") == []  # no second confirmation from the app


@pytest.mark.parametrize("body", ["stop please", "Stop!", "remove me", "REVOKE", "optout"])
def test_r3_the_app_confirms_what_twilio_did_not_catch(twilio_inbound, body):
    [reply] = twilio_inbound(body, "SMin2")
    assert reply.startswith("You have been unsubscribed from Sunrise Dental Care")


def test_r4_twilio_confirms_start_itself(twilio_inbound):
    twilio_inbound("STOP", "SMin3")
    assert twilio_inbound("START", "SMin4") == []


def test_help_on_twilio_gets_the_sub_accounts_help_reply_after_twilios_generic_one(twilio_inbound, world):
    """Twilio's default HELP reply names neither the business nor a support contact, so the
    app sends the sub-account's own HELP reply too (docs/KEYWORDS.md)."""
    world.a1.help_reply = "{business_name}: call 212-555-0100. Reply STOP to opt out. Msg&data rates may apply."
    world.a1.save(update_fields=["help_reply"])
    assert twilio_inbound("HELP", "SMin5") == [
        "Sunrise Dental Care: call 212-555-0100. Reply STOP to opt out. Msg&data rates may apply."
    ]


def test_help_with_advanced_opt_out_is_left_to_twilio(settings, world, client):
    """With Advanced Opt-Out Twilio sends OptOutType=HELP: it replied with the text configured there."""
    from tests.messaging.helpers import post_signed

    settings.SMS_BACKEND, settings.TWILIO_AUTH_TOKEN = "twilio", "stub-auth-token"
    providers._load.cache_clear()
    contact = Contact.objects.create(sub_account=world.a1, phone="+12125550178", consent="granted")
    params = {"MessageSid": "SMin6", "From": contact.phone, "To": FROM, "Body": "HELP", "OptOutType": "HELP"}
    try:
        assert post_signed(client, "/webhooks/twilio/inbound", params, token="stub-auth-token").status_code == 200
    finally:
        providers._load.cache_clear()
    assert not contact.messages.filter(source="keyword_reply").exists()


@pytest.mark.parametrize(
    ("body", "start"),
    [("PARAR", "Se ha dado de baja de Sunrise Dental Care"), ("ARRÊT", "Vous êtes désabonné de Sunrise Dental Care")],
)
def test_r3_twilio_does_not_know_spanish_or_french_keywords_so_the_app_confirms(twilio_inbound, body, start):
    [reply] = twilio_inbound(body, "SMin7")
    assert reply.startswith(start)


def test_r3_on_twilio_the_custom_confirmation_answers_what_twilio_did_not(twilio_inbound, world):
    world.a1.opt_out_confirmation = "{business_name}: you're out. No more texts."
    world.a1.save(update_fields=["opt_out_confirmation"])
    assert twilio_inbound("STOP", "SMin8") == []  # Twilio's own confirmation went: never a second one


def test_r3_on_twilio_a_phrase_gets_the_custom_confirmation(twilio_inbound, world):
    world.a1.opt_out_confirmation = "{business_name}: you're out. No more texts."
    world.a1.save(update_fields=["opt_out_confirmation"])
    assert twilio_inbound("remove me", "SMin9") == ["Sunrise Dental Care: you're out. No more texts."]


def test_the_benchmarks_asyncio_stub_answers_the_sdk_like_the_threaded_one(settings):
    """bench/bulk_send.py runs the stub as one asyncio loop (`python -m tests.twilio_stub`):
    the same answers through the same SDK — accepted with a sid, refused without credentials,
    listed for reconciliation — over keep-alive connections, with the async client as dispatch
    uses it."""
    import asyncio
    import threading

    from tests.twilio_stub import StubState, serve_asyncio

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = StubState()
    loop = asyncio.new_event_loop()  # left running (a daemon thread): its connections close at exit
    threading.Thread(target=loop.run_forever, daemon=True).start()
    serving = asyncio.run_coroutine_threadsafe(serve_asyncio(state, port), loop)
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, "stub-auth-token"
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    for _ in range(50):  # until it listens
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.02)
    provider = TwilioProvider()
    outcomes = provider.send_many([sms(to=f"+1212555{i:04d}") for i in range(20)], width=8)
    assert sorted(o.sid for o in outcomes) == sorted(r["sid"] for r in state.received)
    since = timezone.now() - timedelta(minutes=5)
    found = provider.find_sent(to="+12125550003", from_=FROM, body="Hello from Sunrise Dental", after=since)
    assert found == state.sids_to("+12125550003")[0]
    state.script[TO] = [INVALID_NUMBER]
    with pytest.raises(ProviderRejected) as refused:
        provider.send(sms())  # the sync client too
    assert refused.value.code == "21211"
    serving.cancel()
