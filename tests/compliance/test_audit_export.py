"""The compliance audit export (issue 16): a scripted history of Sunrise Dental, made through the
real webhooks, pages and services — carrier codes (R1), a user lifting a temporary DND (R2), STOP
and START by text (R3, R4), an opt-in recorded with its proof (R10), a content violation (R11),
rate violations and three suspensions, the last permanent (R8, R9), an appeal asked for more,
answered, rejected, a second one approved (R9), a Business Info edit (R5/R6) — and the export
holds every kind of record, with who, what and why, as CSV and as one JSON document."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compliance import audit, monitoring, rates, screening
from compliance.models import Appeal, AppealStep, RateBucket, Suspension
from tests.compliance.conftest import NOON
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

RANGE = {"start": "2026-11-22", "end": "2026-11-26"}


def appeal_form():
    return {
        "opt_in_screenshot": SimpleUploadedFile("optin.png", b"\x89PNG\r\n\x1a\n opt-in", content_type="image/png"),
        "checkbox_screenshot": SimpleUploadedFile("box.png", b"\x89PNG\r\n\x1a\n box", content_type="image/png"),
        "collection_url": "https://sunrise.example.com/join",
        "consent_description": "Patients tick the SMS box on our booking form.",
        "activity_stopped": "on",
    }


def suspend_by_rates(world, clock, day, run_jobs, capture):
    """Another day of a bad error rate, measured by rate monitoring (R8)."""
    clock.move_to(NOON + timedelta(days=day))
    now = NOON + timedelta(days=day)
    RateBucket.objects.create(sub_account=world.a1, hour=rates.hour_of(now), outbound=64, finalized=64, undelivered=8)
    with capture(execute=True):
        monitoring.rates_evaluate(sub_account_id=world.a1.pk)
    run_jobs()


@pytest.fixture
def history(world, clock, contacts, send, receipt, stop, login, run_jobs, django_capture_on_commit_callbacks):
    owner = login(world.a1_owner)  # one test client: each login(...) switches who it is
    # Day 0: 50 bulk messages; carrier codes 30004 (permanent DND) and 30003 (temporary), six
    # filtered (30007): 8 of 50 undelivered is 16 % — a suspension (R8).
    messages = send(contacts, 50)
    codes = ["30004", "30003"] + ["30007"] * 6
    for message, code in zip(messages, codes + [""] * 42, strict=True):
        receipt(message, "undelivered" if code else "delivered", code)
    assert Suspension.objects.filter(sub_account=world.a1).count() == 1
    # R2: the owner lifts the temporary DND from the contact page.
    temporary = messages[1].contact
    owner.post(reverse("dnd_remove", args=[world.a1.pk, temporary.pk]))
    # R3/R4: a contact texts STOP, then START.
    stop(contacts[60], "STOP")
    with django_capture_on_commit_callbacks(execute=True):
        params = {"MessageSid": "SMstart", "From": contacts[60].phone, "To": "+16465550101", "Body": "START"}
        assert post_signed(login(world.a1_owner), "/webhooks/twilio/inbound", params).status_code == 200
    # R10: an opt-in recorded with its proof on the contact page.
    owner.post(
        reverse("consent_record", args=[world.a1.pk, world.a1_contact.pk]),
        {"source": "Booking form", "at": "2026-11-23T06:30", "ip_or_method": "203.0.113.9",
         "url": "https://sunrise.example.com/join", "consent_text": "I agree to texts."},
    )  # fmt: skip
    # R11: a bulk message with prohibited content.
    screening.content_block(sub_account=world.a1, body="Free beer tonight!", user=world.a1_owner)
    # R5/R6: Business Info edited.
    owner.post(
        reverse("business_info", args=[world.a1.pk]),
        {"business_name": "Sunrise Dental Care", "opt_out_text": "Text STOP to opt out", "sender_text": "— Sunrise"},
    )
    # Days 1 and 2: two more suspensions; the third within 30 days is permanent (R9).
    suspend_by_rates(world, clock, 1, run_jobs, django_capture_on_commit_callbacks)
    suspend_by_rates(world, clock, 2, run_jobs, django_capture_on_commit_callbacks)
    assert Suspension.objects.filter(sub_account=world.a1, kind="permanent").exists()
    # R9: appeal; support asks for more, the owner answers, support rejects; a second is approved.
    owner = login(world.a1_owner)
    owner.post(reverse("appeals", args=[world.a1.pk]), appeal_form())
    appeal = Appeal.objects.get()
    info = {"action": "info", "message": "Proof for this number, please.", "numbers": "+17185550000"}
    login(world.support).post(reverse("support_appeal", args=[appeal.pk]), info)
    login(world.a1_owner).post(reverse("appeal_detail", args=[world.a1.pk, appeal.pk]), {"response": "Recorded."})
    login(world.support).post(reverse("support_appeal", args=[appeal.pk]),
                              {"action": "reject", "message": "No SMS consent text on the form."})  # fmt: skip
    login(world.a1_owner).post(reverse("appeals", args=[world.a1.pk]), appeal_form())
    second = Appeal.objects.exclude(pk=appeal.pk).get()
    login(world.support).post(reverse("support_appeal", args=[second.pk]),
                              {"action": "approve", "message": "Consent text added."})  # fmt: skip
    clock.move_to(NOON + timedelta(days=3))
    return world


def export_csv(client, world, **params):
    response = client.get(reverse("audit_export_csv", args=[world.a1.pk]), RANGE | params)
    assert response.status_code == 200, response.content
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_audit_export_holds_every_kind_of_record_with_who_what_and_why(history, login):
    world = history
    rows = export_csv(login(world.a1_owner), world)
    kinds = {r["record"] for r in rows}
    assert kinds == set(audit.KINDS), set(audit.KINDS) - kinds
    assert list(rows[0]) == audit.COLUMNS
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)  # time order (one zone, one offset)

    def find(record, **match):
        found = [r for r in rows if r["record"] == record and all(v in r[k] for k, v in match.items())]
        assert found, (record, match)
        return found

    # R1: the carrier's codes, with their meaning.
    find("dnd_change", what="DND none → permanent", who="the carrier", why="30004 (Recipient blocks texts)")
    find("dnd_change", what="DND none → temporary", why="30003 (Unreachable)")
    # R2: the user who lifted the temporary DND.
    find("dnd_change", what="DND temporary → none", who="owner@sunrise.test")
    # R3/R4: STOP and START by text, with the rule that fired.
    find("keyword", what="Opt-out", who="the contact, by text", why="'STOP'")
    find("keyword", what="Opt-in", who="the contact, by text", why="'START'")
    find("dnd_change", what="DND permanent → none", who="the contact, by text")
    # R10: the recorded opt-in with its proof, and who recorded it.
    find("consent", what="Opt-in", who="owner@sunrise.test", why="Booking form, 203.0.113.9")
    # R8/R11: the violations and suspensions; the first two ended by time, the third was lifted on appeal.
    find("violation", what="Prohibited content", why="beer", who="owner@sunrise.test")
    find(
        "violation",
        what="Error rate",
        who="rate monitoring",
        why="Error rate 16 % over the 24 hours to 2026-11-23T12:00:00+00:00",
    )
    assert len(find("suspension", what="Temporary suspension")) == 2
    find("suspension", what="Permanent suspension")
    assert len(find("suspension_ended")) == 2
    find("suspension_lifted", who="support@ops.test", why="Appeal approved by support")
    # R9: every step of both appeals, not only the latest.
    steps = [(r["what"], r["who"], r["why"]) for r in find("appeal_step")]
    assert steps == [
        ("Appeal submitted", "owner@sunrise.test", "Patients tick the SMS box on our booking form."),
        ("More information requested", "support@ops.test",
         "Proof for this number, please. — proof of opt-in asked for +17185550000"),
        ("Information sent", "owner@sunrise.test", "Recorded."),
        ("Rejected", "support@ops.test", "No SMS consent text on the form."),
        ("Appeal submitted", "owner@sunrise.test", "Patients tick the SMS box on our booking form."),
        ("Approved", "support@ops.test", "Consent text added."),
    ]  # fmt: skip
    assert AppealStep.objects.count() == 6
    # R5/R6: the Business Info change, before and after.
    [change] = find("business_info_change", who="owner@sunrise.test")
    assert "opt_out_text" in change["what"] and "'' → 'Text STOP to opt out'" in change["why"]


def test_the_json_document_holds_the_same_records(history, login):
    world = history
    client = login(world.a_admin)
    rows = export_csv(client, world)
    response = client.get(reverse("audit_export_json", args=[world.a1.pk]), RANGE)
    assert response.status_code == 200 and response.streaming
    document = json.loads(b"".join(response.streaming_content))
    assert document["sub_account"] | {"id": None} == {
        "id": None,
        "name": "Sunrise Dental",
        "business_name": "Sunrise Dental Care",
        "time_zone": "America/New_York",
    }
    assert document["record_kinds"] == list(audit.KINDS)
    assert (document["from"], document["to"]) == ("2026-11-22T00:00:00-05:00", "2026-11-27T00:00:00-05:00")
    assert [(r["record"], r["at"], r["who"]) for r in document["records"]] == [
        (r["record"], r["at"], r["who"]) for r in rows
    ]
    stop = next(r for r in document["records"] if r["record"] == "keyword" and r["what"] == "Opt-out")
    assert stop["detail"]["ip_or_method"] == "SMS reply"


def test_the_range_is_the_sub_accounts_days(history, login):
    """The days are the sub-account's (New York): 2026-11-24 holds day 1's violation and
    suspension (12:00 UTC) and the end of day 0's suspension (00:00 UTC = 19:00 on the 23rd: not in it)."""
    world = history
    rows = export_csv(login(world.a1_owner), world, start="2026-11-24", end="2026-11-24")
    assert rows and all(r["at"].startswith("2026-11-24") for r in rows)
    assert {r["record"] for r in rows} <= {"suspension", "suspension_ended", "violation"}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, "start: This field is required."),
        ({"start": "2026-11-30", "end": "2026-11-01"}, "The last day is before the first day."),
        ({"start": "yesterday", "end": "2026-11-01"}, "start: Enter a valid date."),
    ],
)
def test_a_bad_range_is_a_clear_400(world, login, params, error):
    response = login(world.a1_owner).get(reverse("audit_export_csv", args=[world.a1.pk]), params)
    assert response.status_code == 400 and error in response.content.decode()


@pytest.mark.parametrize("name", ["audit_export_csv", "audit_export_json"])
@pytest.mark.parametrize(
    ("user", "status"),
    [("a1_owner", 200), ("a_admin", 200), ("a_staff", 403), ("a1_user", 403), ("support", 403), ("b_admin", 404)],
)
def test_only_owners_and_agency_admins_export(world, login, name, user, status):
    response = login(getattr(world, user)).get(reverse(name, args=[world.a1.pk]), RANGE)
    assert response.status_code == status
