"""Carrier registration (issue 17): sends gated on it, the Settings → Registration page, and the
review through each provider — the in-memory one, the simulator's reviewer, and Twilio through
its SDK against the Twilio-compatible stub."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from compliance.models import Registration, RegistrationEvent
from messaging import bulk, providers, services
from messaging.models import Message, PhoneNumber, Source, Status
from messaging.providers.registration import MEMORY
from messaging.registration import registration_submit, registration_sync, registrations_sync
from tests.twilio_stub import running_stub

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def registration_required(settings, world):
    """The default policy: registration required (tests/conftest.py turns it off elsewhere)."""
    settings.COMPLIANCE_POLICY = {"QUIET_SOURCES": []}
    world.ramp_at_top(world.a1)
    world.a1_contact.consent = "granted"
    world.a1_contact.save()
    MEMORY.decisions.clear()
    MEMORY.submitted.clear()


def registration(world, **fields) -> Registration:
    return Registration.objects.create(
        sub_account=world.a1, **({
            "legal_name": "Sunrise Dental Care LLC", "website": "https://sunrisedental.com",
            "contact_email": "owner@sunrise.test",
            "description": "Appointment reminders and offers for the patients of Sunrise Dental Care.",
            "opt_in_description": "Patients tick an unchecked box on the website form that says they agree.",
            "sample_1": "Sunrise Dental Care: your visit is tomorrow at 10. Reply STOP to unsubscribe.",
            "sample_2": "Sunrise Dental Care: 20% off whitening. Reply STOP to unsubscribe.",
        } | fields),
    )  # fmt: skip


def approve(reg):
    now = timezone.now()
    reg.mark_submitted(brand_sid="BN1", campaign_sid="", provider_status="PENDING", now=now)
    reg.mark_approved(provider_status="VERIFIED", now=now)


# --- Gating ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [Source.BULK, Source.CAMPAIGN, Source.WORKFLOW])
def test_blasts_from_an_unregistered_number_fail_with_the_reason(world, source):
    [m] = services.messages_send(sub_account=world.a1, contacts=[world.a1_contact], body="Hi", source=source)
    assert m.status == Status.FAILED
    assert "not registered for A2P 10DLC" in m.failure_reason


@pytest.mark.parametrize("source", [Source.ONE_TO_ONE, Source.MISSED_CALL_TEXT_BACK, Source.TEST])
def test_person_facing_texts_are_not_gated(world, source):
    [m] = services.messages_send(sub_account=world.a1, contacts=[world.a1_contact], body="Hi", source=source)
    assert m.status == Status.QUEUED


def test_an_approved_registration_lets_blasts_through_and_a_draft_does_not(world):
    reg = registration(world)
    [m] = services.messages_send(sub_account=world.a1, contacts=[world.a1_contact], body="Hi", source=Source.BULK)
    assert m.status == Status.FAILED
    approve(reg)
    [m] = services.messages_send(sub_account=world.a1, contacts=[world.a1_contact], body="Hi", source=Source.BULK)
    assert m.status == Status.QUEUED


def test_a_toll_free_number_needs_its_own_verification(world):
    approve(registration(world))
    PhoneNumber.objects.create(sub_account=world.a1, number="+18005550199")
    messages = services.messages_send(
        sub_account=world.a1, contacts=[world.a1_contact, world.a1_contact], body="Hi", source=Source.BULK,
        from_numbers=["+16465550101", "+18005550199"],
    )  # fmt: skip
    assert [m.status for m in messages] == [Status.QUEUED, Status.FAILED]
    assert "toll-free number is not verified" in messages[1].failure_reason


def test_bulk_preview_and_start_name_the_unregistered_number(world):
    preview = bulk.bulk_preview(
        sub_account=world.a1, body="Hi", audience={"kind": "all"}, from_numbers=["+16465550101"],
        source=Source.BULK, now=timezone.now(),
    )  # fmt: skip
    assert preview.will_send == 0
    assert preview.unregistered.startswith("+16465550101: This number is not registered for A2P 10DLC yet")
    with pytest.raises(services.MessagingError, match="not registered for A2P 10DLC"):
        bulk.bulk_send_start(
            sub_account=world.a1, user=world.a1_owner, body="Hi", contact_ids=[world.a1_contact.pk],
            audience_label="All", send_at=None, from_numbers=["+16465550101"],
        )  # fmt: skip
    assert not Message.objects.exists()


def test_dashboard_says_what_is_missing(world, login):
    url = reverse("subaccount_dashboard", args=[world.a1.pk])
    page = login(world.a1_owner).get(url).content.decode()
    assert "A2P 10DLC (US local numbers) has not been started." in page
    assert "Bulk, campaign and workflow texts from +16465550101 are refused until it is approved." in page
    approve(registration(world))
    assert "registration-missing" not in login(world.a1_owner).get(url).content.decode()


# --- The page -------------------------------------------------------------------------------


def page_url(world, kind="10dlc", sub=None):
    return reverse("registration_kind", args=[(sub or world.a1).pk, kind])


def form_data(**fields):
    return {
        "legal_name": "Sunrise Dental Care LLC", "website": "https://sunrisedental.com",
        "contact_email": "owner@sunrise.test", "use_case": "MIXED", "monthly_volume": "1,000",
        "description": "Appointment reminders and offers for the patients of Sunrise Dental Care.",
        "opt_in_description": "Patients tick an unchecked box on the website form that says they agree.",
        "sample_1": "Sunrise Dental Care: your visit is tomorrow at 10. Reply STOP to unsubscribe.",
        "sample_2": "Sunrise Dental Care: 20% off whitening. Reply STOP to unsubscribe.",
    } | fields  # fmt: skip


def test_other_tenants_get_404_and_users_may_only_look(world, login):
    assert login(world.b_admin).get(page_url(world)).status_code == 404
    assert login(world.b_admin).post(page_url(world), form_data()).status_code == 404
    client = login(world.a1_user)
    assert client.get(page_url(world)).status_code == 200
    assert client.post(page_url(world), form_data(save="1")).status_code == 403
    assert not Registration.objects.exists()


def test_save_a_draft_then_submit_then_the_review_approves(world, login):
    client = login(world.a1_owner)
    response = client.post(page_url(world), form_data(save="1"), follow=True)
    assert "Draft saved." in response.content.decode()
    reg = Registration.objects.get(sub_account=world.a1)
    assert reg.status == "draft" and not MEMORY.submitted
    response = client.post(page_url(world), form_data(submit="1"), follow=True)
    assert "Submitted for review." in response.content.decode()
    reg.refresh_from_db()
    assert reg.status == "submitted" and reg.brand_sid and len(MEMORY.submitted) == 1
    # In review: the form is closed.
    response = client.post(page_url(world), form_data(legal_name="Changed", save="1"), follow=True)
    assert "cannot be changed" in response.content.decode()
    MEMORY.decisions["Sunrise Dental Care LLC"] = ("approved", "")
    assert registrations_sync() == 1
    reg.refresh_from_db()
    assert reg.status == "approved" and reg.legal_name == "Sunrise Dental Care LLC"
    assert list(RegistrationEvent.objects.values_list("status", flat=True)) == ["submitted", "approved"]
    assert RegistrationEvent.objects.first().user == world.a1_owner


def test_a_submission_missing_facts_is_kept_as_a_draft_with_the_reasons(world, login):
    response = login(world.a1_owner).post(
        page_url(world), form_data(sample_2="20% off whitening this month, book now!", submit="1"), follow=True
    )
    page = response.content.decode()
    assert "Saved as a draft, not submitted:" in page
    assert "Sample message 2 must name the business (Sunrise Dental Care)." in page
    assert Registration.objects.get().status == "draft" and not MEMORY.submitted


def test_a_rejection_shows_the_reason_and_can_be_corrected_and_resubmitted(world, login):
    reg = registration_submit(registration=registration(world), user=world.a1_owner)
    MEMORY.decisions["Sunrise Dental Care LLC"] = ("rejected", "The website does not show the opt-in form.")
    registration_sync(reg.pk)
    client = login(world.a1_owner)
    page = client.get(page_url(world)).content.decode()
    assert "Rejected: The website does not show the opt-in form." in page
    client.post(page_url(world), form_data(submit="1"))
    reg.refresh_from_db()
    assert reg.status == "submitted" and reg.rejection_reason == "" and len(MEMORY.submitted) == 2


# --- The simulator's reviewer ----------------------------------------------------------------


def test_the_simulator_reviews_after_a_delay_and_rejects_a_placeholder_website(world, settings):
    settings.SMS_BACKEND = "simulator"
    settings.SIMULATOR_REVIEW_SECONDS = 10
    good = registration_submit(registration=registration(world), user=None)
    bad = registration_submit(
        registration=registration(world, kind="toll_free", website="https://sunrise.example.com"), user=None
    )
    assert registration_sync(good.pk) == "submitted"  # still in review
    with time_machine.travel(timezone.now() + timedelta(seconds=11)):
        assert registration_sync(good.pk) == "approved"
        assert registration_sync(bad.pk) == "rejected"
    bad.refresh_from_db()
    assert "sunrise.example.com does not show the business" in bad.rejection_reason


# --- Twilio, through the SDK, against the stub -------------------------------------------------


@pytest.fixture
def stub(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
    settings.TWILIO_AUTH_TOKEN = "stub-auth-token"
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    providers._load.cache_clear()
    with running_stub() as stub:
        settings.TWILIO_API_BASE_URL = stub.url
        yield stub
    providers._load.cache_clear()


def test_twilio_brand_then_campaign_then_verified(world, stub):
    reg = registration(world, customer_profile_sid="BU" + "1" * 32, a2p_profile_sid="BU" + "2" * 32)
    registration_submit(registration=reg, user=world.a1_owner)
    [brand] = stub.registrations.created
    assert brand["kind"] == "brand" and brand["form"]["CustomerProfileBundleSid"] == ["BU" + "1" * 32]
    assert registration_sync(reg.pk) == "submitted"  # brand PENDING: no campaign yet
    stub.registrations.status[brand["sid"]] = "APPROVED"
    assert registration_sync(reg.pk) == "submitted"  # the campaign is created, IN_PROGRESS
    campaign = stub.registrations.created[1]
    assert campaign["kind"] == "campaign"
    assert campaign["form"]["MessageSamples"] == [reg.sample_1, reg.sample_2]
    assert campaign["form"]["UsAppToPersonUsecase"] == ["MARKETING"]
    reg.refresh_from_db()
    assert reg.campaign_sid == campaign["sid"] and reg.provider_status == "campaign IN_PROGRESS"
    stub.registrations.status[campaign["sid"]] = "VERIFIED"
    assert registration_sync(reg.pk) == "approved"


def test_twilio_campaign_failure_and_missing_bundles(world, stub):
    reg = registration(world)
    with pytest.raises(services.MessagingError, match="Trust Hub customer profile"):
        registration_submit(registration=reg, user=None)
    reg.customer_profile_sid, reg.a2p_profile_sid = "BU1", "BU2"
    reg.save()
    registration_submit(registration=reg, user=None)
    stub.registrations.status[stub.registrations.created[0]["sid"]] = "APPROVED"
    registration_sync(reg.pk)
    sid = stub.registrations.created[1]["sid"]
    stub.registrations.status[sid], stub.registrations.reasons[sid] = "FAILED", "Opt-in description is unclear."
    assert registration_sync(reg.pk) == "rejected"
    reg.refresh_from_db()
    assert reg.rejection_reason == "Opt-in description is unclear."


def test_twilio_toll_free_verification(world, stub):
    PhoneNumber.objects.create(sub_account=world.a1, number="+18005550199", provider_sid="PN" + "9" * 32)
    reg = registration_submit(registration=registration(world, kind="toll_free"), user=None)
    [created] = stub.registrations.created
    assert created["kind"] == "toll_free" and created["form"]["TollfreePhoneNumberSid"] == ["PN" + "9" * 32]
    stub.registrations.status[created["sid"]] = "TWILIO_REJECTED"
    stub.registrations.reasons[created["sid"]] = "Business website does not match."
    assert registration_sync(reg.pk) == "rejected"
