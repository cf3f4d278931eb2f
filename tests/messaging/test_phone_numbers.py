"""Settings → Phone numbers (R12): search the provider's numbers, buy one (its webhooks set to
ours), release one after a confirmation, import one from the provider account; refused with the
reason in each R12 state. Through the in-memory provider, and through the Twilio SDK against the
Twilio-compatible stub."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance import provisioning
from messaging import providers
from messaging.models import PhoneNumber
from messaging.providers import NumberError, NumberSearch, OwnedNumber
from messaging.providers.memory import MemoryProvider
from tests.compliance.test_provisioning import suspension
from tests.twilio_stub import running_stub

pytestmark = pytest.mark.django_db
INBOUND = "http://localhost:8000/webhooks/twilio/inbound"
VOICE_STATUS = "http://localhost:8000/webhooks/twilio/voice-status"


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_BASE_URL = "http://localhost:8000"


def page(world):
    return reverse("phone_numbers", args=[world.a1.pk])


def search(client, world, **query):
    return client.get(page(world), {"country": "US", "sms_only": "on"} | query).content.decode()


def first_for_sale(area_code="646"):
    return MemoryProvider().search_numbers(NumberSearch(area_code=area_code, limit=1))[0].number


# --- search and buy ---------------------------------------------------------------------------


def test_search_lists_numbers_for_sale_with_a_buy_button(world, login):
    html = search(login(world.a1_owner), world, area_code="305")
    assert 'data-testid="number-results"' in html and html.count("+1305") >= 5 and ">Buy</button>" in html
    assert 'data-number="+16465550101"' in html  # the owned number is listed too


def test_search_with_htmx_returns_only_the_results(world, login):
    client = login(world.a1_owner)
    html = client.get(
        page(world), {"country": "US", "area_code": "305"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert html.lstrip().startswith('<div id="results"') and "<h1>" not in html


def test_search_rejects_a_malformed_area_code_in_words(world, login):
    html = search(login(world.a1_owner), world, area_code="046", contains="a-b")
    assert "An area code is three digits, not starting with 0 or 1 (e.g. 646)." in html
    assert "Enter 2 to 7 digits or letters." in html and ">Buy</button>" not in html


def test_buy_records_the_number_with_its_sid_and_sets_our_webhooks(world, login, memory_provider):
    number = first_for_sale()
    response = login(world.a1_owner).post(reverse("phone_number_buy", args=[world.a1.pk]), {"number": number},
                                          follow=True)  # fmt: skip
    assert f"Bought {number}: it can send and receive texts now." in response.content.decode()
    bought = world.a1.phone_numbers.get(number=number)
    owned, hooks = memory_provider.account[bought.provider_sid]
    assert owned.number == number and (hooks.sms_url, hooks.voice_status_url) == (INBOUND, VOICE_STATUS)
    assert f'data-number="{number}"' in response.content.decode()


def test_buy_needs_an_owner_or_agency_admin(world, login, memory_provider):
    url = reverse("phone_number_buy", args=[world.a1.pk])
    assert login(world.a1_user).post(url, {"number": first_for_sale()}).status_code == 403
    assert login(world.support).post(url, {"number": first_for_sale()}).status_code == 403
    assert memory_provider.account == {}
    assert login(world.a_admin).post(url, {"number": first_for_sale()}).status_code == 302
    assert world.a1.phone_numbers.count() == 2
    assert "Buy a number" not in login(world.a1_user).get(page(world)).content.decode()


@pytest.mark.parametrize(
    ("number", "refusal"),
    [("+14155550121", "+14155550121 is already in use."), ("not a number", "“not a number” is not a phone number.")],
    ids=["another-tenants-number", "not-a-number"],
)
def test_buy_refuses_bad_input_in_words_and_buys_nothing(world, login, memory_provider, number, refusal):
    url = reverse("phone_number_buy", args=[world.a1.pk])
    html = login(world.a1_owner).post(url, {"number": number}, follow=True).content.decode()
    assert refusal in html and memory_provider.account == {} and world.a1.phone_numbers.count() == 1


def test_a_provider_refusal_is_shown_and_nothing_is_recorded(world, login, memory_provider):
    number = first_for_sale()
    memory_provider.number_script.append(NumberError("That number is no longer available. Search again."))
    url = reverse("phone_number_buy", args=[world.a1.pk])
    html = login(world.a1_owner).post(url, {"number": number}, follow=True).content.decode()
    assert "That number is no longer available. Search again." in html and world.a1.phone_numbers.count() == 1


def test_a_number_someone_else_bought_meanwhile_is_refused(world, login):
    number = first_for_sale()
    url = reverse("phone_number_buy", args=[world.a1.pk])
    login(world.a1_owner).post(url, {"number": number})
    PhoneNumber.objects.filter(number=number).update(sub_account=world.a2)  # as if a2 had it
    html = login(world.a1_owner).post(url, {"number": number}, follow=True).content.decode()
    assert f"{number} is already in use." in html


# --- release --------------------------------------------------------------------------------------


def test_release_asks_for_confirmation_then_gives_the_number_back(world, login, memory_provider):
    client = login(world.a1_owner)
    client.post(reverse("phone_number_buy", args=[world.a1.pk]), {"number": first_for_sale()})
    bought = world.a1.phone_numbers.exclude(provider_sid="").get()
    url = reverse("phone_number_release", args=[world.a1.pk, bought.pk])
    assert url in client.get(page(world)).content.decode()
    html = client.get(url).content.decode()
    assert f"Release {bought.number}?" in html and "This cannot be undone." in html
    assert world.a1.phone_numbers.filter(pk=bought.pk).exists()  # nothing happens on GET
    html = client.post(url, follow=True).content.decode()
    assert f"Released {bought.number}." in html and f'data-number="{bought.number}"' not in html
    assert not PhoneNumber.objects.filter(pk=bought.pk).exists() and memory_provider.account == {}


def test_release_of_a_number_the_provider_does_not_have_removes_it_here(world, login):
    typed_in = world.a1.phone_numbers.get()  # typed in before provisioning went through the provider
    client = login(world.a1_owner)
    assert (
        "last number" in client.get(reverse("phone_number_release", args=[world.a1.pk, typed_in.pk])).content.decode()
    )
    client.post(reverse("phone_number_release", args=[world.a1.pk, typed_in.pk]))
    assert not world.a1.phone_numbers.exists()


def test_release_is_refused_when_the_provider_fails_and_the_number_stays(world, login, memory_provider):
    memory_provider.number_script.append(NumberError("Twilio did not answer. Try again in a moment."))
    number = world.a1.phone_numbers.get()
    html = login(world.a1_owner).post(reverse("phone_number_release", args=[world.a1.pk, number.pk]), follow=True)
    assert "Twilio did not answer. Try again in a moment." in html.content.decode()
    assert PhoneNumber.objects.filter(pk=number.pk).exists()


def test_release_needs_an_owner_or_agency_admin(world, login):
    number = world.a1.phone_numbers.get()
    assert login(world.a1_user).post(reverse("phone_number_release", args=[world.a1.pk, number.pk])).status_code == 403
    assert PhoneNumber.objects.filter(pk=number.pk).exists()


# --- import from the provider account ---------------------------------------------------------------


def account_has(memory_provider, number, sid):
    memory_provider.account[sid] = (OwnedNumber(number=number, sid=sid, friendly_name="Old line"), None)


def test_import_lists_only_numbers_no_subaccount_has_and_sets_our_webhooks(world, login, memory_provider):
    account_has(memory_provider, "+17372345678", "PN" + "1" * 32)
    account_has(memory_provider, "+14155550121", "PN" + "2" * 32)  # Pine Bakery's (the other tenant's)
    client = login(world.a1_owner)
    url = reverse("phone_number_import", args=[world.a1.pk])
    html = client.get(url).content.decode()
    assert 'data-number="+17372345678"' in html and "+14155550121" not in html
    html = client.post(url, {"sid": "PN" + "1" * 32}, follow=True).content.decode()
    assert "Imported +17372345678" in html
    assert world.a1.phone_numbers.get(number="+17372345678").provider_sid == "PN" + "1" * 32
    hooks = memory_provider.account["PN" + "1" * 32][1]
    assert (hooks.sms_url, hooks.voice_status_url) == (INBOUND, VOICE_STATUS)
    # Another tenant's number cannot be taken by its sid either.
    html = client.post(url, {"sid": "PN" + "2" * 32}, follow=True).content.decode()
    assert "another sub-account already has it" in html
    assert PhoneNumber.objects.get(number="+14155550121").sub_account == world.b1


def test_import_needs_an_owner_or_agency_admin(world, login):
    assert login(world.a1_user).get(reverse("phone_number_import", args=[world.a1.pk])).status_code == 403


# --- R12 on the page ------------------------------------------------------------------------------


def restrict(world):
    now = timezone.now()
    suspension(world.a1, started=now - timedelta(days=2))
    suspension(world.a1, started=now - timedelta(days=9))


@pytest.mark.parametrize("state", ["temporary", "repeated"])
def test_r12_refused_states_show_the_reason_and_refuse_buy_search_and_import(world, login, memory_provider, state):
    if state == "temporary":
        suspension(world.a1, started=timezone.now() - timedelta(minutes=5))
        reason = "New phone numbers cannot be added while sending is suspended (until "
    else:
        restrict(world)
        reason = "New phone numbers cannot be added: sending was suspended 2 times in the last 30 days."
    account_has(memory_provider, "+17372345678", "PN" + "1" * 32)
    client = login(world.a1_owner)
    html = search(client, world, area_code="305")
    assert reason in html and ">Buy</button>" not in html and "+1305" not in html
    # No rule numbers in what users read (as words: a random CSRF token may hold "R8").
    assert not re.search(r"\bR(8|12)\b", html)
    assert 'data-number="+16465550101"' in html  # the numbers are still listed
    html = client.post(reverse("phone_number_buy", args=[world.a1.pk]), {"number": first_for_sale()}, follow=True)
    assert reason in html.content.decode()
    html = client.post(reverse("phone_number_import", args=[world.a1.pk]), {"sid": "PN" + "1" * 32}, follow=True)
    assert reason in html.content.decode()
    assert world.a1.phone_numbers.count() == 1 and len(memory_provider.account) == 1


def test_r12_after_supports_lift_the_owner_can_buy_again(world, login):
    restrict(world)
    provisioning.provisioning_restriction_lift(sub_account=world.a1, user=world.support, reason="Reviewed the list")
    number = first_for_sale()
    login(world.a1_owner).post(reverse("phone_number_buy", args=[world.a1.pk]), {"number": number})
    assert world.a1.phone_numbers.filter(number=number).exists()


def test_r12_release_is_allowed_while_restricted(world, login):
    restrict(world)
    number = world.a1.phone_numbers.get()
    login(world.a1_owner).post(reverse("phone_number_release", args=[world.a1.pk, number.pk]))
    assert not PhoneNumber.objects.filter(pk=number.pk).exists()


def test_support_sees_a_link_to_the_support_page(world, login):
    html = login(world.support).get(page(world)).content.decode()
    assert reverse("support_subaccount", args=[world.a1.pk]) in html
    assert (
        reverse("support_subaccount", args=[world.a1.pk]) not in login(world.a1_owner).get(page(world)).content.decode()
    )


# --- Twilio, through the SDK, against the stub --------------------------------------------------


@pytest.fixture
def twilio(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
    settings.TWILIO_AUTH_TOKEN = "stub-auth-token"
    providers._load.cache_clear()
    with running_stub() as stub:
        settings.TWILIO_API_BASE_URL = stub.url
        yield stub
    providers._load.cache_clear()


def test_twilio_search_buy_and_release_from_the_page(world, login, twilio):
    client = login(world.a1_owner)
    html = search(client, world, area_code="646")
    assert 'data-number="+16462345678"' in html and 'data-number="+16463217654"' in html
    client.post(reverse("phone_number_buy", args=[world.a1.pk]), {"number": "+16462345678"})
    bought = world.a1.phone_numbers.get(number="+16462345678")
    record = twilio.numbers[bought.provider_sid]
    assert (record["sms_url"], record["status_callback"]) == (INBOUND, VOICE_STATUS)
    assert record["friendly_name"] == "Sunrise Dental"
    client.post(reverse("phone_number_release", args=[world.a1.pk, bought.pk]))
    assert twilio.numbers == {} and not world.a1.phone_numbers.filter(number="+16462345678").exists()


def test_twilio_import_from_the_account(world, login, twilio):
    twilio.numbers["PN" + "a" * 32] = {"sid": "PN" + "a" * 32, "phone_number": "+15122345610",
                                      "friendly_name": "(512) 234-5610", "date_created": timezone.now(),
                                      "sms_url": "https://old.example/sms"}  # fmt: skip
    client = login(world.a1_owner)
    html = client.get(reverse("phone_number_import", args=[world.a1.pk])).content.decode()
    assert 'data-number="+15122345610"' in html
    client.post(reverse("phone_number_import", args=[world.a1.pk]), {"sid": "PN" + "a" * 32})
    assert world.a1.phone_numbers.filter(number="+15122345610", provider_sid="PN" + "a" * 32).exists()
    assert twilio.numbers["PN" + "a" * 32]["sms_url"] == INBOUND
