"""Provisioning at the provider edge (R12): searching, buying, releasing, listing and configuring
numbers — Twilio through the real SDK against the Twilio-compatible stub, the simulator (Redis),
and the in-memory provider."""

import phonenumbers
import pytest

from messaging import providers
from messaging.providers import NumberError, NumberNotFound, NumberSearch, NumberWebhooks
from messaging.providers.simulator import SimulatorProvider
from messaging.providers.twilio import TwilioProvider
from tests.twilio_stub import Error, running_stub

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
HOOKS = NumberWebhooks(
    sms_url="https://app.example/webhooks/twilio/inbound",
    voice_status_url="https://app.example/webhooks/twilio/voice-status",
)


@pytest.fixture
def stub(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = "stub-auth-token"
    providers._load.cache_clear()
    with running_stub() as stub:
        settings.TWILIO_API_BASE_URL = stub.url
        yield stub
    providers._load.cache_clear()


# --- Twilio, through the SDK ------------------------------------------------------------------


def test_twilio_search_by_area_code_and_sms_capability(stub):
    found = TwilioProvider().search_numbers(NumberSearch(country="US", area_code="512"))
    # +15129876543 is voice-only: SmsEnabled=true leaves it out.
    assert [(n.number, n.locality, n.region, n.sms) for n in found] == [("+15122345610", "Austin", "TX", True)]
    everything = TwilioProvider().search_numbers(NumberSearch(country="US", area_code="512", sms_enabled=False))
    assert {n.number for n in everything} == {"+15122345610", "+15129876543"}


def test_twilio_search_contains_reads_letters_as_a_keypad_and_by_country(stub):
    assert [n.number for n in TwilioProvider().search_numbers(NumberSearch(contains="7654"))] == ["+16463217654"]
    assert [n.number for n in TwilioProvider().search_numbers(NumberSearch(contains="ADG"))] == [  # 234
        "+16462345678", "+15122345610",
    ]  # fmt: skip
    assert [n.number for n in TwilioProvider().search_numbers(NumberSearch(country="CA"))] == ["+14162345678"]


def test_twilio_buy_sets_our_webhooks_on_the_number(stub):
    owned = TwilioProvider().buy_number("+16462345678", webhooks=HOOKS, friendly_name="Sunrise Dental")
    [record] = stub.numbers.values()
    assert owned.sid == record["sid"] and owned.number == "+16462345678"
    assert record["sms_url"] == HOOKS.sms_url and record["sms_method"] == "POST"
    assert record["status_callback"] == HOOKS.voice_status_url and record["status_callback_method"] == "POST"
    assert record["friendly_name"] == "Sunrise Dental"
    assert "voice_url" not in record  # left alone: an empty answer would hang up every call
    assert "+16462345678" not in {n["phone_number"] for n in stub.available["US"]}


def test_twilio_buy_of_a_number_no_longer_for_sale_is_refused_in_words(stub):
    TwilioProvider().buy_number("+16462345678", webhooks=HOOKS)
    with pytest.raises(NumberError) as refused:
        TwilioProvider().buy_number("+16462345678", webhooks=HOOKS)
    assert refused.value.reason == "That number is no longer available. Search again."
    assert len(stub.numbers) == 1


def test_twilio_errors_and_unreachable_become_number_errors(stub, settings):
    stub.number_script.append(Error(500, 20500, "Internal Server Error"))
    with pytest.raises(NumberError, match="Twilio refused: Internal Server Error"):
        TwilioProvider().search_numbers(NumberSearch(area_code="646"))
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(NumberError, match="Twilio did not answer"):
        TwilioProvider().list_numbers()


def test_twilio_release_by_sid_and_by_number_then_not_found(stub):
    provider = TwilioProvider()
    first = provider.buy_number("+16462345678", webhooks=HOOKS)
    provider.buy_number("+16463217654", webhooks=HOOKS)
    provider.release_number(number=first.number, sid=first.sid)
    provider.release_number(number="+16463217654")  # no sid: found by its number
    assert stub.numbers == {}
    with pytest.raises(NumberNotFound):
        provider.release_number(number=first.number, sid=first.sid)
    with pytest.raises(NumberNotFound):
        provider.release_number(number="+16463217654")


def test_twilio_list_and_configure_for_import(stub):
    provider = TwilioProvider()
    other = NumberWebhooks(sms_url="https://old.example/sms", voice_status_url="https://old.example/voice")
    owned = provider.buy_number("+15122345610", webhooks=other)
    assert [(n.number, n.sid, n.sms) for n in provider.list_numbers()] == [("+15122345610", owned.sid, True)]
    provider.configure_number(sid=owned.sid, webhooks=HOOKS)
    record = stub.numbers[owned.sid]
    assert (record["sms_url"], record["status_callback"]) == (HOOKS.sms_url, HOOKS.voice_status_url)
    with pytest.raises(NumberNotFound):
        provider.configure_number(sid="PN" + "0" * 32, webhooks=HOOKS)


# --- the simulator and the in-memory provider -------------------------------------------------


@pytest.fixture(params=["simulator", "memory"])
def fake(request, memory_provider):
    return SimulatorProvider() if request.param == "simulator" else memory_provider.MemoryProvider()


def test_fake_carriers_offer_realistic_numbers_of_the_area_code(fake):
    found = fake.search_numbers(NumberSearch(country="US", area_code="305", limit=5))
    assert len(found) == 5
    for n in found:
        parsed = phonenumbers.parse(n.number)
        assert phonenumbers.is_valid_number(parsed) and phonenumbers.region_code_for_number(parsed) == "US"
        assert n.number.startswith("+1305") and n.number[5:8] != "555" and n.locality
    assert [n.number for n in fake.search_numbers(NumberSearch(country="US", area_code="305", limit=5))] == [
        n.number for n in found
    ]  # the same search, the same numbers
    toronto = fake.search_numbers(NumberSearch(country="CA", area_code="416", limit=2))
    assert all(n.number.startswith("+1416") for n in toronto) and toronto
    assert fake.search_numbers(NumberSearch(country="US", area_code="416")) == []  # a Canadian area code
    [vanity] = fake.search_numbers(NumberSearch(area_code="646", contains="SMILE", limit=1))
    assert "76453" in vanity.number


def test_fake_carriers_allocate_and_release(fake):
    [number] = [n.number for n in fake.search_numbers(NumberSearch(area_code="212", limit=1))]
    owned = fake.buy_number(number, webhooks=HOOKS)
    assert number in {n.number for n in fake.list_numbers()}
    assert number not in {n.number for n in fake.search_numbers(NumberSearch(area_code="212", limit=20))}
    with pytest.raises(NumberError):
        fake.buy_number(number, webhooks=HOOKS)  # one buyer per number
    fake.release_number(number=number, sid=owned.sid)
    assert number not in {n.number for n in fake.list_numbers()}
    with pytest.raises(NumberNotFound):
        fake.release_number(number=number, sid=owned.sid)
    again = fake.buy_number(number, webhooks=HOOKS)  # released: for sale again
    assert again.number == number and again.sid != owned.sid


def test_simulator_account_has_numbers_to_import_at_start():
    listed = SimulatorProvider().list_numbers()
    assert len(listed) == 2 and all(n.number.startswith("+1737") for n in listed)
    configured = SimulatorProvider().configure_number(sid=listed[0].sid, webhooks=HOOKS)
    assert configured.number == listed[0].number
