"""Each trigger enrolls: contact created (form, API, import, an inbound text), tag added (form,
API, import — only a tag that is new on the contact), an inbound keyword (never one of R3/R4's),
a missed call (once per call). A contact is in a workflow at most once at a time; re-entry is the
workflow's setting; draft and stopped workflows enroll nobody."""

import json

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from messaging import contacts as contact_services
from messaging import imports, inbound
from messaging.automations import triggers
from messaging.automations.enrolling import enroll
from messaging.automations.models import Enrollment, Workflow
from messaging.keys import api_key_create
from messaging.models import Contact, Tag
from tests.messaging.automations.conftest import send
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

NUMBER = "+16465550101"


def enrolled(workflow) -> list[str]:
    return sorted(workflow.enrollments.values_list("contact__phone", flat=True))


def api_post(client, world, path, data):
    _, key = api_key_create(sub_account=world.a1, name="t", user=None)
    return client.post(path, json.dumps(data), content_type="application/json",
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip


# --- Contact created ------------------------------------------------------------------------


def test_contact_created_on_the_contact_form(world, login, make_workflow):
    workflow = make_workflow(send("Welcome!"), trigger="contact_created")
    login(world.a1_owner).post(reverse("contact_create", args=[world.a1.pk]), {"phone": "212-555-0177"})
    assert enrolled(workflow) == ["+12125550177"]
    assert workflow.enrollments.get().trigger == "Contact created"


def test_contact_created_through_the_api_and_not_when_it_existed(client, world, make_workflow):
    workflow = make_workflow(send("Welcome!"), trigger="contact_created")
    assert api_post(client, world, "/api/v1/contacts", {"phone": "+12125550178"}).status_code == 201
    assert api_post(client, world, "/api/v1/contacts", {"phone": "+12125550178"}).status_code == 200
    assert api_post(client, world, "/api/v1/contacts", {"phone": world.a1_contact.phone}).status_code == 200
    assert enrolled(workflow) == ["+12125550178"]


def test_contact_created_by_the_import_and_by_an_inbound_text(world, make_workflow):
    workflow = make_workflow(send("Welcome!"), trigger="contact_created")
    rows, _ = imports.parse_contact_rows(f"phone\n2125550179\n{world.a1_contact.phone}\n", time_zone="UTC")
    contact_services.contacts_import(sub_account=world.a1, rows=rows)
    inbound.inbound_receive(sid="SMnew", from_="+12125550180", to=NUMBER, body="Hi, do you take new patients?")
    assert enrolled(workflow) == ["+12125550179", "+12125550180"]
    assert set(workflow.enrollments.values_list("trigger", flat=True)) == {
        "Contact created (import)",
        "Contact created",
    }


def test_draft_and_stopped_workflows_enroll_nobody_and_other_sub_accounts_are_not_touched(world, make_workflow):
    draft = make_workflow(send("Hi"), trigger="contact_created", status="draft")
    stopped = make_workflow(send("Hi"), trigger="contact_created", status="stopped")
    other = make_workflow(send("Hi"), trigger="contact_created", sub_account=world.b1)
    contact_services.contact_get_or_create(sub_account=world.a1, phone="+12125550181")
    assert enrolled(draft) == enrolled(stopped) == enrolled(other) == []


# --- Tag added ------------------------------------------------------------------------------


def test_tag_added_on_the_contact_form_only_when_it_is_new(world, login, make_workflow):
    vip = Tag.objects.create(sub_account=world.a1, name="vip")
    workflow = make_workflow(send("VIP!"), trigger="tag_added", trigger_tag=vip)
    client = login(world.a1_owner)
    edit = reverse("contact_edit", args=[world.a1.pk, world.a1_contact.pk])
    client.post(edit, {"phone": world.a1_contact.phone, "tags": "lead"})
    assert enrolled(workflow) == []
    client.post(edit, {"phone": world.a1_contact.phone, "tags": "lead, vip"})
    client.post(edit, {"phone": world.a1_contact.phone, "tags": "vip"})  # still there: not added again
    assert enrolled(workflow) == [world.a1_contact.phone]
    assert workflow.enrollments.get().trigger == "Tag “vip” added"


def test_tag_added_through_the_api_and_the_import(client, world, make_workflow):
    vip = Tag.objects.create(sub_account=world.a1, name="vip")
    workflow = make_workflow(send("VIP!"), trigger="tag_added", trigger_tag=vip, allow_reentry=True)
    api_post(client, world, "/api/v1/contacts", {"phone": "+12125550182", "tags": ["vip"]})
    rows, _ = imports.parse_contact_rows("phone,tags\n2125550183,vip\n2125550182,vip\n", time_zone="UTC")
    contact_services.contacts_import(sub_account=world.a1, rows=rows)
    assert enrolled(workflow) == ["+12125550182", "+12125550183"]  # 0182 had the tag already


# --- Keyword --------------------------------------------------------------------------------


def test_an_inbound_keyword_enrolls_whole_message_case_and_punctuation_aside(world, make_workflow):
    workflow = make_workflow(send("Pick a time: …"), trigger="keyword", trigger_keyword="Book")
    inbound.inbound_receive(sid="SM1", from_="+12125550184", to=NUMBER, body="  book! ")
    inbound.inbound_receive(sid="SM2", from_="+12125550185", to=NUMBER, body="I want to book a table")
    assert enrolled(workflow) == ["+12125550184"]
    assert workflow.enrollments.get().trigger == "Texted “book!”"


@pytest.mark.parametrize(
    ("keyword", "rule"),
    [("STOP", "opt-out keyword"), ("stop please", "opt-out keyword"), ("Remove me", "opt-out keyword"),
     ("UNSUBSCRIBE", "opt-out keyword"), ("START", "opt-in keyword"), ("yes", "opt-in keyword"),
     ("HELP", "HELP keyword"), ("info", "HELP keyword")],
)  # fmt: skip
def test_r3_r4_keywords_cannot_be_triggers(keyword, rule):
    assert rule in triggers.keyword_problem(keyword)


def test_an_ordinary_keyword_is_accepted():
    assert triggers.keyword_problem("Book") == triggers.keyword_problem("stop by") == ""


def test_an_opt_out_never_enrolls_even_into_a_workflow_saved_with_that_keyword(world, make_workflow):
    # Saved before a policy change made it a keyword, say: the compliance meaning wins.
    workflow = make_workflow(send("Hi"), trigger="keyword", trigger_keyword="stop")
    inbound.inbound_receive(sid="SM3", from_=world.a1_contact.phone, to=NUMBER, body="STOP")
    assert enrolled(workflow) == []


# --- Missed call ----------------------------------------------------------------------------


def voice(client, sid):
    params = {"CallSid": sid, "From": "+12125550186", "To": NUMBER, "CallStatus": "no-answer"}
    return post_signed(client, "/webhooks/twilio/voice-status", params)


def test_a_missed_call_enrolls_once_per_call_with_or_without_text_back(client, world, make_workflow):
    workflow = make_workflow(send("Sorry we missed you"), trigger="missed_call", allow_reentry=True)
    assert not world.a1.missed_call_text_back
    voice(client, "CA1")
    voice(client, "CA1")  # Twilio retries its webhook
    assert workflow.enrollments.count() == 1 and workflow.enrollments.get().trigger_key == "call:CA1"
    Enrollment.objects.update(status="completed")
    voice(client, "CA2")  # another call, re-entry on
    assert workflow.enrollments.count() == 2


# --- Once at a time, re-entry ---------------------------------------------------------------


def test_at_most_once_at_a_time_and_reentry_is_the_workflows_setting(world, people, make_workflow):
    ava = people[0]
    once = make_workflow(send("Hi"), name="Once")
    again = make_workflow(send("Hi"), name="Again", allow_reentry=True)
    for workflow in (once, again):
        assert len(enroll(workflow=workflow, contact_ids=[ava.pk, ava.pk], trigger="t")) == 1
        assert enroll(workflow=workflow, contact_ids=[ava.pk], trigger="t") == set()  # in it now
    Enrollment.objects.update(status="completed")
    assert enroll(workflow=once, contact_ids=[ava.pk], trigger="t") == set()  # re-entry off
    assert len(enroll(workflow=again, contact_ids=[ava.pk], trigger="t")) == 1


def test_the_database_keeps_one_enrollment_at_a_time_even_if_two_triggers_race(world, people, make_workflow):
    workflow = make_workflow(send("Hi"), allow_reentry=True)
    Enrollment.objects.create(sub_account=world.a1, workflow=workflow, contact=people[0], trigger="first",
                              enrolled_at=Workflow.objects.get().created_at)  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(sub_account=world.a1, workflow=workflow, contact=people[0], trigger="second",
                                  enrolled_at=Workflow.objects.get().created_at)  # fmt: skip
    assert Contact.objects.get(pk=people[0].pk).enrollments.count() == 1
