"""The automation pages: the list with per-step counts, the builder (add, edit, reorder, remove
steps; R3/R4 keywords refused as triggers), a workflow's page with its enrollments and filters,
an enrollment's log, campaigns, the pause/resume/cancel buttons, "pause all sending" on the
dashboard and in the banners, the missed-call text back settings and the simulator's missed call.
Other tenants get a 404 on every page (tests/accounts/test_access.py)."""

from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import Violation
from messaging.automations import triggers
from messaging.automations.enrolling import enroll
from messaging.automations.models import Enrollment, SendingPause, Workflow, WorkflowStep
from messaging.automations.runner import enrollments_step_due
from messaging.models import BulkSend, Contact, Tag

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def url(name, world, **kwargs):
    return reverse(name, kwargs={"sub_account_id": world.a1.pk, **kwargs})


@pytest.fixture
def workflow(world):
    workflow = Workflow.objects.create(sub_account=world.a1, name="Welcome", trigger="api", status="draft")
    for position, body in enumerate(["Hi {first_name}!", "Still there?"]):
        WorkflowStep.objects.create(workflow=workflow, position=position, kind="send_sms", body=body)
    return workflow


def activate(workflow):
    workflow.status = "active"
    workflow.save(update_fields=["status"])


def steps_of(workflow):
    return list(workflow.steps.order_by("position").values_list("kind", "body", "wait_minutes"))


# --- The list -------------------------------------------------------------------------------


def test_index_lists_workflows_with_per_step_counts_and_the_built_ins(world, login, workflow):
    Contact.objects.filter(pk=world.a1_contact.pk).update(consent="granted")
    world.ramp_at_top(world.a1)
    activate(workflow)
    enroll(workflow=workflow, contact_ids=[world.a1_contact.pk], trigger="t")
    enrollments_step_due()
    page = login(world.a1_user).get(url("automations_index", world)).content.decode()
    assert "Welcome" in page and "Enrolled through the API" in page
    assert "1. Send SMS: Hi {first_name}! — 1 reached, 0 sent, 0 delivered, 0 replied" in page
    assert 'data-testid="missed-call-state">Off<' in page
    assert '<span class="nav-label">Automations</span>' in page  # in the sub-account's sidebar


# --- Building -------------------------------------------------------------------------------


def test_create_a_tag_triggered_workflow(world, login):
    response = login(world.a1_user).post(url("workflow_create", world), {
        "name": "VIP welcome", "trigger": "tag_added", "tag_name": "vip", "offset_amount": 0,
    })  # fmt: skip
    workflow = Workflow.objects.get()
    assert response["Location"] == url("workflow_edit", world, workflow_id=workflow.pk)
    assert (workflow.status, workflow.trigger_tag.name, workflow.created_by) == ("draft", "vip", world.a1_user)


@pytest.mark.parametrize("keyword", ["STOP", "stop please", "START", "HELP"])
def test_r3_r4_keywords_are_refused_when_saved(world, login, keyword):
    data = {"name": "Oops", "trigger": "keyword", "trigger_keyword": keyword}
    response = login(world.a1_owner).post(url("workflow_create", world), data)
    assert response.status_code == 200
    assert triggers.keyword_problem(keyword) in response.content.decode()
    assert not Workflow.objects.exists()


def test_a_date_trigger_is_saved_as_an_offset(world, login):
    login(world.a1_owner).post(url("workflow_create", world), {
        "name": "Reminder", "trigger": "date", "trigger_date_field": "appointment_at", "offset_amount": 24,
        "offset_unit": "hours", "offset_direction": "before",
    })  # fmt: skip
    assert Workflow.objects.get().trigger_offset_minutes == -24 * 60


def test_builder_adds_reorders_and_removes_steps(world, login, workflow):
    client = login(world.a1_user)
    add = url("workflow_step_add", world, workflow_id=workflow.pk)
    client.post(add, {"kind": "wait", "wait_amount": 1, "wait_unit": "minutes"})
    client.post(add, {"kind": "add_tag", "tag_name": "engaged"})
    assert steps_of(workflow) == [("send_sms", "Hi {first_name}!", None), ("send_sms", "Still there?", None),
                                  ("wait", "", 1), ("add_tag", "", None)]  # fmt: skip
    wait = workflow.steps.get(kind="wait")
    client.post(url("workflow_step_move", world, workflow_id=workflow.pk, step_id=wait.pk), {"direction": "up"})
    assert [k for k, _, _ in steps_of(workflow)] == ["send_sms", "wait", "send_sms", "add_tag"]
    tag_step = workflow.steps.get(kind="add_tag")
    client.post(url("workflow_step_remove", world, workflow_id=workflow.pk, step_id=tag_step.pk))
    assert [k for k, _, _ in steps_of(workflow)] == ["send_sms", "wait", "send_sms"]
    assert list(workflow.steps.values_list("position", flat=True).order_by("position")) == [0, 1, 2]
    page = client.get(url("workflow_edit", world, workflow_id=workflow.pk)).content.decode()
    assert "Hi Ava!</pre>" in page and "Wait 1 minute" in page  # composed for the first contact


def test_a_bad_step_is_an_error_on_the_builder_and_saves_nothing(world, login, workflow):
    client = login(world.a1_user)
    add = url("workflow_step_add", world, workflow_id=workflow.pk)
    response = client.post(add, {"kind": "send_sms", "body": "Hi {frist_name}"})
    assert response.status_code == 400 and "Unknown merge field(s): {frist_name}." in response.content.decode()
    response = client.post(add, {"kind": "send_sms", "body": "Cheap vodka tonight"})
    assert "prohibited content (alcohol)" in response.content.decode()
    response = client.post(add, {"kind": "wait"})
    assert "Give either how long to wait or until what time of day." in response.content.decode()
    assert len(steps_of(workflow)) == 2


def test_an_active_workflows_steps_cannot_be_changed(world, login, workflow):
    activate(workflow)
    client = login(world.a1_user)
    client.post(url("workflow_step_add", world, workflow_id=workflow.pk), {"kind": "stop_if_replied"})
    page = client.get(url("workflow_edit", world, workflow_id=workflow.pk)).content.decode()
    assert "Pause the workflow to change its steps: it is active." in page
    assert len(steps_of(workflow)) == 2


def test_edit_a_step(world, login, workflow):
    step = workflow.steps.get(position=1)
    login(world.a1_user).post(url("workflow_step_edit", world, workflow_id=workflow.pk, step_id=step.pk),
                              {"kind": "send_sms", "body": "Book now: reply YES"})  # fmt: skip
    step.refresh_from_db()
    assert step.body == "Book now: reply YES"


def test_live_compose_shows_the_text_as_it_goes_and_its_segments(world, login):
    html = login(world.a1_user).post(url("step_compose", world), {"body": "Hi {first_name} €"}, headers=HTMX)
    html = html.content.decode()
    assert (
        'data-testid="composed-text">Hi Ava €</pre>' in html and "GSM-7 · 9 characters · 1 segment"
    )  # € counts twice in html
    html = login(world.a1_user).post(url("step_compose", world), {"body": "Hi {frist}"}).content.decode()
    assert "Unknown merge field(s): {frist}." in html


# --- Status ---------------------------------------------------------------------------------


def test_activate_pause_resume_stop_from_the_workflow_page(world, login, workflow):
    client = login(world.a1_user)
    status = url("workflow_status", world, workflow_id=workflow.pk)
    for action, expected in [("activate", "active"), ("pause", "paused"), ("resume", "active"), ("stop", "stopped")]:
        client.post(status, {"action": action})
        workflow.refresh_from_db()
        assert workflow.status == expected, action
    assert workflow.status_changed_by == world.a1_user


def test_an_incomplete_workflow_is_not_activated_and_says_why(world, login):
    draft = Workflow.objects.create(sub_account=world.a1, name="Empty", trigger="keyword")
    client = login(world.a1_user)
    page = client.post(url("workflow_status", world, workflow_id=draft.pk), {"action": "activate"}, follow=True)
    assert "Add at least one step. Choose the keyword that triggers it." in page.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_support_sees_but_does_not_change(world, login, workflow):
    client = login(world.support)
    assert client.get(url("workflow_detail", world, workflow_id=workflow.pk)).status_code == 200
    assert (
        client.post(url("workflow_status", world, workflow_id=workflow.pk), {"action": "activate"}).status_code == 403
    )


# --- A workflow's page and its enrollments --------------------------------------------------


def test_workflow_page_lists_enrollments_with_filters(world, login, workflow):
    activate(workflow)
    ben = Contact.objects.create(sub_account=world.a1, phone="+12125550111", first_name="Ben")
    enroll(workflow=workflow, contact_ids=[world.a1_contact.pk, ben.pk], trigger="Tag “vip” added")
    Enrollment.objects.filter(contact=ben).update(status="exited", exit_reason="The contact opted out (R3).")
    client = login(world.a1_user)
    detail = url("workflow_detail", world, workflow_id=workflow.pk)
    page = client.get(detail).content.decode()
    assert "Ava" in page and "Ben" in page and "The contact opted out (R3)." in page
    page = client.get(detail, {"status": "active"}).content.decode()
    assert "Ava" in page and ">Ben<" not in page
    page = client.get(detail, {"q": "ben"}).content.decode()
    assert ">Ben<" in page and ">Ava<" not in page


def test_enrollment_page_shows_the_log_and_unenrolls(world, login, workflow):
    WorkflowStep.objects.create(workflow=workflow, position=2, kind="wait", wait_minutes=60)
    activate(workflow)
    (pk,) = enroll(workflow=workflow, contact_ids=[world.a1_contact.pk], trigger="t")
    enrollments_step_due()
    client = login(world.a1_user)
    page = client.get(url("enrollment_detail", world, workflow_id=workflow.pk, enrollment_id=pk)).content.decode()
    assert "No consent on record for this contact" in page  # step 1 was refused (R10): the log says why
    client.post(url("enrollment_unenroll", world, workflow_id=workflow.pk, enrollment_id=pk))
    enrollment = Enrollment.objects.get(pk=pk)
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "Unenrolled by user@sunrise.test.")


def test_contact_page_shows_its_enrollments(world, login, workflow):
    activate(workflow)
    enroll(workflow=workflow, contact_ids=[world.a1_contact.pk], trigger="Enrolled through the API")
    page = login(world.a1_user).get(reverse("contact_detail", args=[world.a1.pk, world.a1_contact.pk]))
    html = page.content.decode()
    assert 'data-testid="contact-enrollments"' in html and "Welcome</a>" in html and "Enrolled through the API" in html


def test_contact_form_takes_the_appointment_in_the_sub_accounts_zone(world, login):
    edit = reverse("contact_edit", args=[world.a1.pk, world.a1_contact.pk])
    login(world.a1_user).post(edit, {"phone": world.a1_contact.phone, "appointment_at": "2026-03-03T09:30"})
    world.a1_contact.refresh_from_db()
    assert world.a1_contact.appointment_at.isoformat() == "2026-03-03T14:30:00+00:00"  # 09:30 in New York
    page = login(world.a1_user).get(edit).content.decode()
    assert 'value="2026-03-03T09:30"' in page


# --- Campaigns and bulk sends ---------------------------------------------------------------


@pytest.fixture
def campaign(world):
    return BulkSend.objects.create(sub_account=world.a1, body="Spring promo", audience="All contacts",
                                   name="Spring", status="scheduled",
                                   scheduled_for=timezone.now() + timedelta(days=1))  # fmt: skip


def test_campaigns_are_listed_with_their_controls(world, login, campaign):
    BulkSend.objects.create(sub_account=world.a1, body="Sent now", audience="All", status="done")
    page = login(world.a1_user).get(url("campaign_list", world)).content.decode()
    assert "Spring</a>" in page and "Sent now" not in page
    assert (
        url("bulk_pause", world, bulk_id=campaign.pk) in page and url("bulk_cancel", world, bulk_id=campaign.pk) in page
    )


def test_pause_resume_and_cancel_buttons(world, login, campaign):
    client = login(world.a1_user)
    back = url("campaign_list", world)
    response = client.post(url("bulk_pause", world, bulk_id=campaign.pk), {"next": back})
    assert response["Location"] == back
    campaign.refresh_from_db()
    assert (campaign.status, campaign.paused_by) == ("paused", world.a1_user)
    page = client.get(url("bulk_detail", world, bulk_id=campaign.pk)).content.decode()
    assert 'data-testid="paused"' in page and "hx-trigger" not in page
    client.post(url("bulk_resume", world, bulk_id=campaign.pk))
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    client.post(url("bulk_cancel", world, bulk_id=campaign.pk), {"next": "https://evil.example/"})
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert client.post(url("bulk_pause", world, bulk_id=campaign.pk)).status_code == 302  # nothing to pause: said so


# --- Pause all ------------------------------------------------------------------------------


def test_pause_all_on_the_dashboard_for_owners_and_agency_admins(world, login, workflow):
    activate(workflow)
    dashboard = reverse("subaccount_dashboard", args=[world.a1.pk])
    assert "Pause all sending" not in login(world.a1_user).get(dashboard).content.decode()  # not a manager
    assert login(world.a1_user).post(url("sending_pause_all", world)).status_code == 403
    client = login(world.a1_owner)
    page = client.get(dashboard).content.decode()
    assert "Pause all sending" in page
    response = client.post(url("sending_pause_all", world), {"next": dashboard})
    assert response["Location"] == dashboard
    page = client.get(dashboard).content.decode()
    assert 'data-testid="pause-all-state">Sending is paused' in page and "by owner@sunrise.test" in page
    assert Workflow.objects.get().status == "paused"
    client.post(url("sending_resume_all", world), {"next": dashboard})
    assert Workflow.objects.get().status == "active" and not SendingPause.objects.in_force().exists()


def test_the_violation_banner_carries_pause_all(world, login):
    Violation.objects.create(sub_account=world.a1, kind="opt_out_rate", level="violation", action="emailed",
                             notice_day=timezone.now().date(), detail={"opt_out_rate": "1.2 %"})  # fmt: skip
    page = login(world.a_admin).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    banner = page[page.index('data-testid="violation-banner"') :]
    assert "stop all your workflows, campaigns, triggers and bulk actions" in banner
    assert "Pause all sending" in banner[: banner.index("</section>")]


# --- Missed-call text back ------------------------------------------------------------------


def test_missed_call_settings_preview_and_save(world, login):
    client = login(world.a1_owner)
    settings_url = url("missed_call_settings", world)
    page = client.get(settings_url).content.decode()
    assert (
        'data-testid="preview-new">Sorry we missed your call! How can we help?\nReply STOP to unsubscribe</pre>' in page
    )
    assert 'data-testid="preview-known">Sorry we missed your call! How can we help?</pre>' in page
    client.post(settings_url, {"enabled": "on", "body": "Missed you! Book at sunrise.example"})
    world.a1.refresh_from_db()
    assert (
        world.a1.missed_call_text_back and world.a1.missed_call_text_back_body == "Missed you! Book at sunrise.example"
    )
    assert login(world.a1_user).post(settings_url, {"enabled": "", "body": "x"}).status_code == 403


def test_simulate_a_missed_call_only_under_the_simulator(world, login, settings):
    client = login(world.a1_owner)
    page = client.post(url("missed_call_simulate", world), {"caller": "+12125550950"}, follow=True).content.decode()
    assert "Simulated calls need the carrier simulator" in page
    settings.SMS_BACKEND = "simulator"
    page = client.get(url("missed_call_settings", world)).content.decode()
    assert "Simulate a missed call from +1212555" in page
    client.post(url("missed_call_simulate", world), {"caller": "+12125550950", "to": "+16465550101"})
    jobs = django_rq.get_queue("default").scheduled_job_registry.get_job_ids()
    assert len(jobs) == 1
    job = django_rq.get_queue("default").fetch_job(jobs[0])
    assert job.func_name == "messaging.providers.simulator.play_missed_call"
    assert job.args[1:] == ("+12125550950", "+16465550101")


def test_the_simulators_missed_call_reaches_the_voice_webhook(client, world, settings):
    from messaging.providers import simulator

    settings.SMS_BACKEND = "simulator"
    world.a1.missed_call_text_back = True
    world.a1.save(update_fields=["missed_call_text_back"])
    simulator.play_missed_call("CAsim1", "+12125550951", "+16465550101",
                               transport=lambda p, d, h: client.post(p, d, headers=h))  # fmt: skip
    text_back = Contact.objects.get(phone="+12125550951").messages.get()
    assert text_back.source == "missed_call_text_back"
    assert (
        text_back.body_sent == "Sorry we missed your call! How can we help?\nReply STOP to unsubscribe"
    )  # R5 first text
    assert Tag.objects.count() == 0
