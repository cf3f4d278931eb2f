"""Pause, resume and stop of a workflow; pause, resume and cancel of a campaign and of a running
Bulk SMS (cancel fails exactly what is queued and gives its ramp capacity back, R7); "pause all
sending" and "resume all" for a sub-account."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import RampState
from messaging import bulk, dispatch, services
from messaging.automations import controls, runner
from messaging.automations.enrolling import enroll
from messaging.automations.models import Enrollment, SendingPause, Workflow
from messaging.automations.pausing import PAUSED_UNTIL
from messaging.models import BulkSend, Contact, Message, MessageEvent
from messaging.services import MessagingError
from tests.messaging.automations.conftest import NOON, send, wait

pytestmark = pytest.mark.django_db

CANCELLED = "Cancelled by owner@sunrise.test."


@pytest.fixture
def audience(world, clock):
    """10 consented contacts of a1 at ramp level 1 (100 a day)."""
    world.a1_contact.delete()
    return Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1212777{i:04d}", first_name=f"P{i}", consent="granted")
        for i in range(10)
    )


def start(world, audience, *, send_at=None):
    return bulk.bulk_send_start(
        sub_account=world.a1, user=world.a1_owner, body="Spring checkups are open",
        contact_ids=[c.pk for c in audience], audience_label="All contacts", send_at=send_at,
        from_numbers=["+16465550101"],
    )  # fmt: skip


def ramp_count(world) -> int:
    return RampState.objects.get(sub_account=world.a1).window_count


# --- A running Bulk SMS ---------------------------------------------------------------------


def test_cancel_a_running_bulk_sms_fails_exactly_the_queued_ones_and_gives_back_their_capacity(
    world, audience, memory_provider
):
    sent = start(world, audience)
    assert ramp_count(world) == 10  # R7: reserved when queued
    dispatch.dispatch_batch([str(m.pk) for m in sent.messages.order_by("to_number")[:4]])  # 4 reach the carrier
    assert controls.bulk_cancel(bulk=sent, user=world.a1_owner) == 6
    statuses = dict(sent.messages.values_list("to_number", "status"))
    assert sorted(statuses.values()) == ["failed"] * 6 + ["sent"] * 4
    assert set(sent.messages.filter(status="failed").values_list("failure_reason", flat=True)) == {CANCELLED}
    assert ramp_count(world) == 4  # the 6 cancelled gave their capacity back; the sent keep theirs
    sent.refresh_from_db()
    assert (sent.status, sent.cancelled_by, sent.cancelled_at) == ("cancelled", world.a1_owner, NOON)
    with pytest.raises(MessagingError, match="cancelled: there is nothing to cancel"):
        controls.bulk_cancel(bulk=sent, user=world.a1_owner)
    assert len(memory_provider.outbox) == 4


def test_pause_then_resume_a_running_bulk_sms(world, audience, memory_provider, committed, settle):
    with committed():
        sent = start(world, audience)
        assert controls.bulk_pause(bulk=sent, user=world.a1_owner)
    settle()  # the dispatch job enqueued by the send finds only parked messages
    assert memory_provider.outbox == []
    assert set(sent.messages.values_list("status", "send_after")) == {("queued", PAUSED_UNTIL)}
    assert ramp_count(world) == 0  # R7: a paused message does not hold capacity
    assert dispatch.sweep()["lanes"] == []  # parked: the sweep does not pick it up
    sent.refresh_from_db()
    assert (sent.status, sent.paused_by) == ("paused", world.a1_owner)
    assert bulk.bulk_refresh_status(sent).status == "paused"  # never "done" while paused

    with committed():
        assert controls.bulk_resume(bulk=sent, user=world.a1_owner)
    settle()
    assert len(memory_provider.outbox) == 10 and ramp_count(world) == 10
    events = MessageEvent.objects.filter(message__bulk_send=sent, source__in=["pause", "resume"])
    assert set(events.values_list("detail", flat=True)) == {"Paused by owner@sunrise.test.",
                                                            "Resumed by owner@sunrise.test."}  # fmt: skip


# --- A campaign (a Bulk SMS scheduled for later) --------------------------------------------


def test_a_paused_campaign_sends_nothing_at_its_time_and_resume_continues(world, audience, clock, memory_provider,
                                                                          committed, settle):  # fmt: skip
    campaign = start(world, audience, send_at=NOON + timedelta(hours=1))
    assert controls.bulk_pause(bulk=campaign, user=world.a1_owner)
    clock.move_to(NOON + timedelta(hours=1))
    with committed():
        dispatch.sweep()
    settle()
    assert memory_provider.outbox == []
    # Resumed before its time: it waits for its time again.
    clock.move_to(NOON + timedelta(minutes=30))
    with committed():
        assert controls.bulk_resume(bulk=campaign, user=world.a1_owner)
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    assert set(campaign.messages.values_list("send_after", flat=True)) == {NOON + timedelta(hours=1)}
    clock.move_to(NOON + timedelta(hours=1))
    with committed():
        dispatch.sweep()
    settle()
    assert len(memory_provider.outbox) == 10


def test_cancel_a_scheduled_campaign(world, audience, memory_provider):
    campaign = start(world, audience, send_at=NOON + timedelta(hours=1))
    assert controls.bulk_cancel(bulk=campaign, user=world.a1_owner) == 10
    assert set(campaign.messages.values_list("status", "failure_reason")) == {("failed", CANCELLED)}


def test_a_finished_send_cannot_be_paused_or_cancelled(world, audience):
    done = BulkSend.objects.create(sub_account=world.a1, body="Old", audience="All", status="done")
    assert not controls.bulk_pause(bulk=done, user=world.a1_owner)
    with pytest.raises(MessagingError):
        controls.bulk_cancel(bulk=done, user=world.a1_owner)


# --- A workflow -----------------------------------------------------------------------------


def test_pause_resume_and_stop_a_workflow(world, people, make_workflow, clock, committed, settle, memory_provider):
    workflow = make_workflow(send("One"), wait(minutes=10), send("Two"), send("Three"))
    with committed():
        enroll(workflow=workflow, contact_ids=[p.pk for p in people], trigger="test")
    settle()
    assert len(memory_provider.outbox) == 3

    assert controls.workflow_pause(workflow=workflow, user=world.a1_owner)
    workflow.refresh_from_db()
    assert (workflow.status, workflow.status_changed_by, workflow.status_changed_at) == ("paused", world.a1_owner, NOON)
    clock.move_to(NOON + timedelta(minutes=30))
    assert runner.enrollments_step_due()["enrollments"] == 0  # nothing is stepped while paused

    with committed():
        assert controls.workflow_resume(workflow=workflow, user=world.a1_owner)
    settle()  # the resume enqueued the step job: the wait that ended meanwhile runs now
    assert sorted(s.body for s in memory_provider.outbox) == ["One"] * 3 + ["Three"] * 3 + ["Two"] * 3


def test_messages_a_workflow_queued_are_held_while_it_is_paused(world, people, make_workflow, clock, committed, settle,
                                                                 memory_provider):  # fmt: skip
    workflow = make_workflow(send("One"))
    with committed():
        enroll(workflow=workflow, contact_ids=[people[0].pk], trigger="test")
    with committed():
        runner.enrollments_step_due()  # queued; dispatch enqueued on commit, not yet run
    controls.workflow_pause(workflow=workflow, user=world.a1_owner)
    settle()
    assert memory_provider.outbox == []
    assert Message.objects.get().send_after == PAUSED_UNTIL
    with committed():
        controls.workflow_resume(workflow=workflow, user=world.a1_owner)
    settle()
    assert [s.body for s in memory_provider.outbox] == ["One"]


def test_stop_ends_every_enrollment_and_fails_what_it_queued(world, people, make_workflow, clock, committed, settle,
                                                             memory_provider):  # fmt: skip
    workflow = make_workflow(send("One"), wait(minutes=10), send("Two"))
    with committed():
        enroll(workflow=workflow, contact_ids=[people[0].pk], trigger="test")
    with committed():
        runner.enrollments_step_due()  # "One" queued, not dispatched
    assert controls.workflow_stop(workflow=workflow, user=world.a1_owner) == 1
    settle()
    assert memory_provider.outbox == []
    assert Message.objects.get().failure_reason == CANCELLED
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.exit_kind, enrollment.exit_reason) == (
        "exited", "stopped", "Workflow stopped by owner@sunrise.test.",
    )  # fmt: skip
    clock.move_to(NOON + timedelta(minutes=10))
    assert runner.enrollments_step_due()["enrollments"] == 0
    assert enroll(workflow=workflow, contact_ids=[people[1].pk], trigger="test") == set()  # stopped: no new ones


def test_activation_refuses_an_incomplete_workflow(world, make_workflow):
    workflow = make_workflow(status="draft", trigger="tag_added")
    with pytest.raises(MessagingError, match="Add at least one step. Choose the tag that triggers it."):
        controls.workflow_activate(workflow=workflow, user=world.a1_owner)
    casino = make_workflow(send("Win at our c.a.s.i.n.o"), status="draft")
    with pytest.raises(MessagingError, match="prohibited content"):
        controls.workflow_activate(workflow=casino, user=world.a1_owner)


# --- Pause all ------------------------------------------------------------------------------


def test_pause_all_pauses_every_workflow_campaign_and_running_bulk_send_and_resume_all_resumes_them(
    world, audience, people, make_workflow, clock, committed, settle, memory_provider
):
    workflow = make_workflow(send("Workflow hello"))
    draft = make_workflow(send("Not yet"), status="draft", name="Draft")
    running = start(world, audience[:3])
    campaign = start(world, audience[3:6], send_at=NOON + timedelta(hours=1))
    # A workflow message sent through the API belongs to no workflow of ours: held by the pause too.
    api_message = services.message_send_one(sub_account=world.a1, contact=people[1], body="From Zapier",
                                            source="workflow")  # fmt: skip
    pause = controls.sending_pause_all(sub_account=world.a1, user=world.a1_owner)
    assert (pause.paused_by, pause.paused_at, pause.items) == (world.a1_owner, NOON, 3)
    assert set(Workflow.objects.values_list("name", "status")) == {("Follow-up", "paused"), ("Draft", "draft")}
    assert set(BulkSend.objects.values_list("status", flat=True)) == {"paused"}
    with pytest.raises(MessagingError, match="already paused"):
        controls.sending_pause_all(sub_account=world.a1, user=world.a1_owner)

    # Nothing automated goes, even what a trigger enrolls meanwhile; a one-to-one reply still goes.
    with committed():
        enroll(workflow=workflow, contact_ids=[people[2].pk], trigger="test")
        services.message_send_one(sub_account=world.a1, contact=people[0], body="Re: your question",
                                  source="one_to_one")  # fmt: skip
        dispatch.enqueue_dispatch([str(m.pk) for m in Message.objects.filter(status="queued")])
    clock.move_to(NOON + timedelta(hours=2))
    with committed():
        dispatch.sweep()
    settle()
    assert [s.body for s in memory_provider.outbox] == ["Re: your question\nReply STOP to unsubscribe"]  # R5 first text
    assert Message.objects.get(pk=api_message.pk).send_after == PAUSED_UNTIL

    with committed():
        assert controls.sending_resume_all(sub_account=world.a1, user=world.a1_user) == 3
    settle()
    assert sorted(s.body.split("\n")[0] for s in memory_provider.outbox) == sorted(
        ["Re: your question", "From Zapier", "Workflow hello"] + ["Spring checkups are open"] * 6
    )
    pause.refresh_from_db()
    assert (pause.resumed_by, pause.resumed_at) == (world.a1_user, NOON + timedelta(hours=2))
    assert not SendingPause.objects.in_force().exists()
    draft.refresh_from_db()
    assert draft.status == "draft"  # resume all does not activate what was never running
    running.refresh_from_db()
    campaign.refresh_from_db()
    assert bulk.bulk_refresh_status(running).status == "done" and bulk.bulk_refresh_status(campaign).status == "done"
    assert timezone.now() == NOON + timedelta(hours=2)


def test_an_item_can_be_resumed_on_its_own_after_pause_all(world, people, make_workflow, committed, settle,
                                                           memory_provider, clock):  # fmt: skip
    first, second = make_workflow(send("First"), name="A"), make_workflow(send("Second"), name="B")
    controls.sending_pause_all(sub_account=world.a1, user=world.a1_owner)
    with committed():
        enroll(workflow=first, contact_ids=[people[0].pk], trigger="test")
        enroll(workflow=second, contact_ids=[people[0].pk], trigger="test")
        controls.workflow_resume(workflow=first, user=world.a1_owner)
    settle()
    assert [s.body for s in memory_provider.outbox] == ["First"]
    assert Workflow.objects.get(name="B").status == "paused" and SendingPause.objects.in_force().exists()
