"""R9: the third suspension within 30 days is permanent (no SMS of any source, no new numbers,
the phone system's texts on Settings → Phone numbers), and the appeal that lifts it: submitted
with proof of opt-in, more information asked with numbers, rejected with a reason, at most two
per suspension, approved by support staff. R12: no new numbers while suspended."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from compliance import monitoring, rates, suspensions
from compliance.models import Appeal, ConsentEvent, RateBucket, Suspension, Violation
from messaging import inbound, services
from messaging.models import Contact, PhoneNumber, Status

pytestmark = pytest.mark.django_db

PERMANENT = (
    "Sending is permanently suspended after repeated violations: no SMS can be sent until support approves an appeal."
)


def past_suspension(sub_account, days_ago):
    start = timezone.now() - timedelta(days=days_ago)
    violation = Violation.objects.create(sub_account=sub_account, kind="error_rate", level="suspension", action="t")
    return Suspension.objects.create(sub_account=sub_account, cause="error_rate", violation=violation,
                                     started_at=start, ends_at=start + timedelta(hours=10))  # fmt: skip


def cross_the_suspension_threshold(sub_account, run_jobs, capture):
    RateBucket.objects.create(
        sub_account=sub_account, hour=rates.hour_of(timezone.now()), outbound=64, finalized=64, undelivered=8
    )
    with capture(execute=True):
        monitoring.rates_evaluate(sub_account_id=sub_account.pk)
    run_jobs()
    return Suspension.objects.filter(sub_account=sub_account).order_by("-started_at").first()


@pytest.fixture
def permanent(world, run_jobs, django_capture_on_commit_callbacks):
    past_suspension(world.a1, 20)
    past_suspension(world.a1, 5)
    return cross_the_suspension_threshold(world.a1, run_jobs, django_capture_on_commit_callbacks)


def test_r9_the_third_suspension_within_30_days_is_permanent(world, permanent):
    assert (permanent.kind, permanent.ends_at) == ("permanent", None)
    assert permanent.violation.action.startswith("Permanent suspension (3 suspensions within 30 days)")
    [email] = mail.outbox
    assert email.subject == "Sending permanently suspended for Sunrise Dental: repeated violations"
    assert "No SMS of any kind can be sent" in email.body and f"/s/{world.a1.pk}/appeals/" in email.body
    assert suspensions.suspension_in_force(world.a1.pk, timezone.now() + timedelta(days=365)) == permanent


def test_r9_suspensions_older_than_30_days_do_not_count(world, run_jobs, django_capture_on_commit_callbacks):
    past_suspension(world.a1, 31)
    past_suspension(world.a1, 5)
    suspension = cross_the_suspension_threshold(world.a1, run_jobs, django_capture_on_commit_callbacks)
    assert suspension.kind == "temporary" and suspension.ends_at is not None


@pytest.mark.parametrize("source", ["one_to_one", "test", "resend", "missed_call_text_back", "bulk", "workflow"])
def test_r9_no_sms_of_any_source_while_permanently_suspended(world, permanent, source):
    world.ramp_at_top(world.a1)
    Contact.objects.filter(pk=world.a1_contact.pk).update(consent="granted")
    message = services.messages_send(sub_account=world.a1, contacts=[world.a1_contact], body="Hi", source=source)[0]
    assert (message.status, message.failure_reason) == (Status.FAILED, PERMANENT)


def test_r9_an_opt_out_is_still_confirmed(world, permanent):
    inbound.inbound_receive(sid="SMstop", from_=world.a1_contact.phone, to="+16465550101", body="stop please")
    [reply] = world.a1_contact.messages.filter(source="keyword_reply")
    assert reply.status == Status.QUEUED


def test_r9_the_agency_admin_cannot_lift_a_permanent_suspension(world, permanent):
    refusal = suspensions.self_lift_refusal(suspension=permanent, agency=world.A, now=timezone.now())
    assert refusal == "A permanent suspension is lifted only by support staff, through an appeal."


def test_r9_dashboard_banner_links_to_the_appeal_and_offers_no_self_lift(world, permanent, login):
    html = login(world.a_admin).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    assert "Sending is permanently suspended after repeated violations." in html
    assert reverse("appeals", args=[world.a1.pk]) in html and 'data-testid="self-lift"' not in html


def test_r9_phone_numbers_page_shows_the_phone_systems_texts_and_r12_refuses_new_numbers(world, permanent, login):
    client = login(world.a1_owner)
    html = client.get(reverse("phone_numbers", args=[world.a1.pk])).content.decode()
    assert "Failed to retrieve Phone Numbers" in html and "Lead Connector returned Unauthorized" in html
    assert reverse("appeals", args=[world.a1.pk]) in html and "+16465550101" not in html
    assert 'data-testid="number-search"' not in html
    response = client.post(reverse("phone_number_buy", args=[world.a1.pk]), {"number": "+16462345678"}, follow=True)
    assert "sending is permanently suspended" in response.content.decode()
    assert not PhoneNumber.objects.filter(number="+16462345678").exists()


def test_r12_no_new_number_during_a_temporary_suspension(world, login, run_jobs, django_capture_on_commit_callbacks):
    cross_the_suspension_threshold(world.a1, run_jobs, django_capture_on_commit_callbacks)
    client = login(world.a1_owner)
    response = client.post(reverse("phone_number_buy", args=[world.a1.pk]), {"number": "+16462345678"}, follow=True)
    assert "New phone numbers cannot be added while sending is suspended (until " in response.content.decode()
    assert not PhoneNumber.objects.filter(number="+16462345678").exists()
    assert "+16465550101" in response.content.decode()  # the numbers are still listed


# --- Appeals ---------------------------------------------------------------------------------


def appeal_form(**fields):
    return {
        "opt_in_screenshot": SimpleUploadedFile("optin.png", b"\x89PNG\r\n\x1a\n opt-in", content_type="image/png"),
        "checkbox_screenshot": SimpleUploadedFile("box.png", b"\x89PNG\r\n\x1a\n box", content_type="image/png"),
        "collection_url": "https://sunrise.example.com/join",
        "consent_description": "Patients tick the SMS box on our booking form.",
        "activity_stopped": "on",
        "use_case": "Appointment reminders",
    } | fields


def submit(client, world, **fields):
    return client.post(reverse("appeals", args=[world.a1.pk]), appeal_form(**fields))


def decide(client, appeal, **data):
    return client.post(reverse("support_appeal", args=[appeal.pk]), data, follow=True)


def test_r9_the_whole_appeal(world, permanent, login):
    owner = login(world.a1_owner)
    assert submit(owner, world).status_code == 302
    appeal = Appeal.objects.get()
    assert (appeal.status, appeal.submitted_by, appeal.suspension) == ("submitted", world.a1_owner, permanent)
    # The screenshots are served to the sub-account and to support, to no one else.
    shot = reverse("appeal_file", args=[world.a1.pk, appeal.pk, "opt-in"])
    assert b"".join(owner.get(shot).streaming_content) == b"\x89PNG\r\n\x1a\n opt-in"
    # Support asks for proof of opt-in for three numbers.
    proven = Contact.objects.create(sub_account=world.a1, phone="+12125550301", first_name="Pat", email="p@x.test")
    ConsentEvent.objects.create(
        sub_account=world.a1, contact=proven, kind="opt_in", source="Booking form", at=timezone.now(),
        ip_or_method="203.0.113.4", url="https://sunrise.example.com/join",
    )  # fmt: skip
    support = login(world.support)
    assert b"".join(support.get(shot).streaming_content) == b"\x89PNG\r\n\x1a\n opt-in"
    decide(support, appeal, action="info", message="Proof for these, please.",
           numbers="(212) 555-0301\n+1 212 555 0100\n+12125550999")  # fmt: skip
    appeal.refresh_from_db()
    assert appeal.status == "info_requested"
    assert appeal.numbers_requested == ["+12125550301", "+12125550100", "+12125550999"]
    page = login(world.a1_owner).get(reverse("appeal_detail", args=[world.a1.pk, appeal.pk])).content.decode()
    assert "Proof for these, please." in page and "203.0.113.4" in page and "Pat" in page
    assert reverse("consent_record", args=[world.a1.pk, world.a1_contact.pk]) in page  # no proof yet: record it
    assert "Not a contact of this sub-account." in page
    # The owner answers; it goes back to support.
    login(world.a1_owner).post(reverse("appeal_detail", args=[world.a1.pk, appeal.pk]), {"response": "Added."})
    appeal.refresh_from_db()
    assert (appeal.status, appeal.response) == ("submitted", "Added.")
    # A rejection needs a reason, which the sub-account sees.
    assert "Give the reason" in decide(login(world.support), appeal, action="reject", message="").content.decode()
    decide(login(world.support), appeal, action="reject", message="The form has no SMS consent text.")
    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_by) == ("rejected", world.support)
    page = login(world.a1_owner).get(reverse("appeal_detail", args=[world.a1.pk, appeal.pk])).content.decode()
    assert "Rejected: The form has no SMS consent text." in page
    # A second appeal, approved: the suspension is lifted and sending works again.
    assert submit(login(world.a1_owner), world).status_code == 302
    second = Appeal.objects.exclude(pk=appeal.pk).get()
    decide(login(world.support), second, action="approve", message="Consent text added to the form.")
    permanent.refresh_from_db()
    assert permanent.lifted_by == world.support and permanent.lift_note.startswith("Appeal approved by support")
    assert suspensions.suspension_in_force(world.a1.pk, timezone.now()) is None
    world.ramp_at_top(world.a1)
    ok = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="Hi", source="one_to_one")
    assert ok.status == Status.QUEUED


def test_r9_at_most_two_appeals_per_suspension(world, permanent, login):
    for _ in range(2):
        submit(login(world.a1_owner), world)
        appeal = Appeal.objects.filter(status="submitted").get()
        decide(login(world.support), appeal, action="reject", message="Not enough proof.")
    response = submit(login(world.a1_owner), world)
    assert "This suspension has had its 2 appeals. Contact support." in response.content.decode()
    assert Appeal.objects.count() == 2


def test_r9_one_open_appeal_at_a_time_and_only_for_a_permanent_suspension(world, login, permanent):
    submit(login(world.a1_owner), world)
    html = submit(login(world.a1_owner), world).content.decode()
    assert "An appeal of this suspension is already with support." in html and Appeal.objects.count() == 1


def test_r9_a_temporary_suspension_is_not_appealed(world, login, run_jobs, django_capture_on_commit_callbacks):
    cross_the_suspension_threshold(world.a1, run_jobs, django_capture_on_commit_callbacks)
    html = submit(login(world.a1_owner), world).content.decode()
    assert "Only a permanent suspension is appealed; a temporary one ends by itself." in html
    assert not Appeal.objects.exists()


def test_r9_bad_appeal_input_is_a_clear_error_and_records_nothing(world, permanent, login):
    exe = SimpleUploadedFile("x.exe", b"MZ", content_type="application/octet-stream")
    html = submit(login(world.a1_owner), world, opt_in_screenshot=exe, activity_stopped="").content.decode()
    assert "File extension “exe” is not allowed" in html and "This field is required" in html
    assert not Appeal.objects.exists()


def test_r9_who_may_appeal_and_decide(world, permanent, login):
    assert submit(login(world.a1_user), world).status_code == 403  # a sub-account user reads, does not appeal
    assert submit(login(world.a_admin), world).status_code == 302  # an agency admin may
    appeal = Appeal.objects.get()
    assert login(world.a_admin).get(reverse("support_appeal", args=[appeal.pk])).status_code == 404
    assert login(world.a_admin).get(reverse("support_appeals")).status_code == 404
    shot = reverse("appeal_file", args=[world.a1.pk, appeal.pk, "checkbox"])
    assert login(world.b_admin).get(shot).status_code == 404
    assert login(world.a1_user).get(reverse("appeal_file", args=[world.a1.pk, appeal.pk, "other"])).status_code == 404


def test_r9_bad_numbers_in_an_information_request_are_an_error(world, permanent, login):
    submit(login(world.a1_owner), world)
    appeal = Appeal.objects.get()
    html = decide(login(world.support), appeal, action="info", message="Proof", numbers="12345").content.decode()
    assert "“12345” is not a phone number." in html
    appeal.refresh_from_db()
    assert appeal.status == "submitted"


def test_r9_agency_page_and_dashboard_timeline_name_the_permanent_suspension(world, permanent, login):
    agency = login(world.a_admin).get(reverse("agency_detail", args=[world.A.pk])).content.decode()
    assert "Permanently suspended" in agency
    dashboard = login(world.a_admin).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    assert "permanent (until an appeal is approved)" in dashboard and "Permanent suspension</span>" in dashboard


def test_r9_support_sees_which_appeal_of_the_suspension_it_is(world, permanent, login):
    submit(login(world.a1_owner), world)
    first = Appeal.objects.get()
    decide(login(world.support), first, action="reject", message="Not enough proof.")
    submit(login(world.a1_owner), world)
    second = Appeal.objects.exclude(pk=first.pk).get()
    for appeal, n in ((first, "1"), (second, "2")):
        html = login(world.support).get(reverse("support_appeal", args=[appeal.pk])).content.decode()
        assert f'appeal <span data-testid="appeal-number">{n}</span> of at most 2' in html


def test_r9_after_an_approved_appeal_monitoring_suspends_again(world, permanent, login, run_jobs,
                                                              django_capture_on_commit_callbacks):  # fmt: skip
    submit(login(world.a1_owner), world)
    decide(login(world.support), Appeal.objects.get(), action="approve", message="")
    assert suspensions.suspension_in_force(world.a1.pk, timezone.now()) is None
    # The hours that caused it are not counted again (R8: measured afresh after a suspension)…
    with django_capture_on_commit_callbacks(execute=True):
        assert monitoring.rates_evaluate(sub_account_id=world.a1.pk).level == "none"
    # …new traffic over the threshold is: the 4th suspension within 30 days is permanent again.
    later = rates.next_hour(timezone.now())
    RateBucket.objects.create(sub_account=world.a1, hour=later, outbound=64, finalized=64, undelivered=8)
    with django_capture_on_commit_callbacks(execute=True):
        monitoring.rates_evaluate(sub_account_id=world.a1.pk, now=later + timedelta(minutes=1))
    again = suspensions.suspension_in_force(world.a1.pk, later + timedelta(minutes=1))
    assert again is not None and again != permanent and again.kind == "permanent"


def test_r9_an_approved_appeal_is_not_the_agencys_self_lift(world, permanent, login):
    from accounts.models import Agency

    Agency.objects.filter(pk=world.A.pk).update(created_at=timezone.now() - timedelta(days=400))
    world.A.refresh_from_db()
    submit(login(world.a1_owner), world)
    decide(login(world.support), Appeal.objects.get(), action="approve", message="")
    other = past_suspension(world.a2, 0)
    Suspension.objects.filter(pk=other.pk).update(ends_at=timezone.now() + timedelta(hours=5))
    other.refresh_from_db()
    assert suspensions.self_lift_refusal(suspension=other, agency=world.A, now=timezone.now()) == ""


def test_r9_a_screenshot_over_5_mb_is_refused(world, permanent, login):
    big = SimpleUploadedFile("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * (5 * 1024 * 1024), content_type="image/png")
    html = submit(login(world.a1_owner), world, checkbox_screenshot=big).content.decode()
    assert "The screenshot is larger than 5 MB." in html and not Appeal.objects.exists()
