"""The due-step job: waits end at their due time (time-machine, ±1 s) and survive a worker restart;
due enrollments are claimed in batches with a conditional update; steps run set-based; every
workflow message goes through the one send path with source `workflow`."""

from datetime import time, timedelta

import pytest
import time_machine
from django.utils import timezone

from compliance.models import RampState, Suspension, Violation
from messaging import dispatch, inbound
from messaging.automations import runner, triggers
from messaging.automations.enrolling import enroll
from messaging.automations.models import Enrollment, EnrollmentStep
from messaging.models import Contact, Message, Source, Status, Tag
from tests.messaging.automations.conftest import NOON, send, tag_step, wait

pytestmark = pytest.mark.django_db


def texts_to(contact):
    return list(
        Message.objects.filter(contact=contact, direction="outbound")
        .order_by("created_at")
        .values_list("body", flat=True)
    )


def test_send_wait_send_fires_the_second_message_at_its_due_time(world, people, make_workflow, clock, committed, settle,
                                                                  memory_provider):  # fmt: skip
    workflow = make_workflow(send("Thanks for visiting, {first_name}!"), wait(minutes=1), send("How did we do?"))
    ava = people[0]
    with committed():
        enroll(workflow=workflow, contact_ids=[ava.pk], trigger="test")
    settle()
    assert [s.body for s in memory_provider.outbox] == ["Thanks for visiting, Ava!"]
    enrollment = Enrollment.objects.get()
    assert enrollment.position == 2 and enrollment.next_run_at == NOON + timedelta(minutes=1)

    clock.move_to(NOON + timedelta(seconds=59))
    assert runner.enrollments_step_due()["enrollments"] == 0 and texts_to(ava) == ["Thanks for visiting, {first_name}!"]

    clock.move_to(NOON + timedelta(seconds=60))
    with committed():
        assert runner.enrollments_step_due()["enrollments"] == 1
    settle()
    assert [s.body for s in memory_provider.outbox] == ["Thanks for visiting, Ava!", "How did we do?"]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED and enrollment.finished_at == NOON + timedelta(minutes=1)
    log = list(enrollment.log.values_list("position", "kind", "outcome"))
    assert log == [(0, "send_sms", "queued"), (1, "wait", "waiting"), (2, "send_sms", "queued")]
    assert set(Message.objects.values_list("source", flat=True)) == {Source.WORKFLOW}
    assert all(row.message.source == "workflow" for row in EnrollmentStep.objects.filter(message__isnull=False))


def test_a_wait_survives_a_worker_killed_after_claiming(world, people, make_workflow, clock, committed, settle,
                                                        memory_provider):  # fmt: skip
    """State is rows, not timers: a worker killed after claiming leaves a claim that another run
    takes over once it is stale, and the step it had not committed runs exactly once."""
    workflow = make_workflow(send("One"), wait(minutes=30), send("Two"))
    with committed():
        enroll(workflow=workflow, contact_ids=[p.pk for p in people], trigger="test")
    settle()
    assert len(memory_provider.outbox) == 3

    clock.move_to(NOON + timedelta(minutes=30))
    token, claimed = runner.claim(timezone.now())  # …and the worker dies here, before running
    assert len(claimed) == 3
    assert runner.enrollments_step_due()["enrollments"] == 0  # claimed by the dead run: not stepped twice
    clock.move_to(NOON + timedelta(minutes=30) + runner.STALE_AFTER - timedelta(seconds=1))
    assert runner.enrollments_step_due()["enrollments"] == 0
    clock.move_to(NOON + timedelta(minutes=30) + runner.STALE_AFTER + timedelta(seconds=1))
    with committed():
        assert runner.enrollments_step_due()["enrollments"] == 3  # a new worker takes over the stale claim
    settle()
    assert sorted(s.body for s in memory_provider.outbox) == ["One"] * 3 + ["Two"] * 3
    assert runner.enrollments_step_due()["enrollments"] == 0
    assert Enrollment.objects.filter(status="completed").count() == 3


def test_wait_until_a_time_of_day_in_the_contacts_zone(world, people, make_workflow, clock, committed, settle):
    ava, ben, _ = people
    Contact.objects.filter(pk=ben.pk).update(time_zone="America/Los_Angeles")
    workflow = make_workflow(wait(until=time(9, 0)), send("Good morning"))
    with committed():
        enroll(workflow=workflow, contact_ids=[ava.pk, ben.pk], trigger="test")
    settle()
    due = dict(Enrollment.objects.values_list("contact_id", "next_run_at"))
    # Monday 12:00 in New York: 09:00 tomorrow there is 14:00 UTC; in Los Angeles 17:00 UTC.
    assert due[ava.pk] == NOON.replace(day=3, hour=14)
    assert due[ben.pk] == NOON.replace(day=3, hour=17)


def test_steps_run_in_batches_with_a_bounded_number_of_queries(world, make_workflow, clock, monkeypatch,
                                                                django_assert_max_num_queries):  # fmt: skip
    world.ramp_at_top(world.a1)
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1212666{i:04d}", consent="granted") for i in range(120)
    )
    workflow = make_workflow(send("Hello"), wait(minutes=5))
    enroll(workflow=workflow, contact_ids=[c.pk for c in contacts], trigger="test")
    monkeypatch.setattr(runner, "BATCH", 50)
    calls = []
    real_send = runner.messages_send
    monkeypatch.setattr(runner, "messages_send", lambda **kw: calls.append(len(kw["contacts"])) or real_send(**kw))
    with django_assert_max_num_queries(3 * 32):  # about 30 per batch (a send and a wait), whatever its size
        result = runner.enrollments_step_due()
    assert result == {"date_enrollments": 0, "enrollments": 120, "steps": 240, "batches": 3}  # a send, a wait each
    assert calls == [50, 50, 20]  # one send call per batch, never one per contact
    assert Message.objects.filter(status=Status.QUEUED, source="workflow").count() == 120


def test_two_runs_never_claim_the_same_enrollment(world, people, make_workflow, clock):
    workflow = make_workflow(send("Hi"))
    enroll(workflow=workflow, contact_ids=[p.pk for p in people], trigger="test")
    _, first = runner.claim(timezone.now(), limit=2)
    _, second = runner.claim(timezone.now(), limit=10)
    assert len(first) == 2 and len(second) == 1
    assert not {e.pk for e in first} & {e.pk for e in second}


def test_paused_and_draft_workflows_are_not_stepped(world, people, make_workflow, clock):
    paused = make_workflow(send("Hi"), status="paused")
    enroll(workflow=paused, contact_ids=[people[0].pk], trigger="test")  # a paused workflow still enrolls
    assert runner.enrollments_step_due()["enrollments"] == 0
    assert Enrollment.objects.get().position == 0


def test_tag_steps_and_a_tag_added_by_a_step_triggers_other_workflows(world, people, make_workflow, clock, committed,
                                                                      settle):  # fmt: skip
    vip, lead = (
        Tag.objects.create(sub_account=world.a1, name="vip"),
        Tag.objects.create(sub_account=world.a1, name="lead"),
    )
    ava = people[0]
    ava.tags.add(lead)
    welcome = make_workflow(send("Welcome, VIP"), trigger="tag_added", trigger_tag=vip, name="VIP welcome")
    upgrade = make_workflow(tag_step("add_tag", vip), tag_step("remove_tag", lead), name="Upgrade")
    with committed():
        enroll(workflow=upgrade, contact_ids=[ava.pk], trigger="test")
    settle()
    assert set(ava.tags.values_list("name", flat=True)) == {"vip"}
    assert texts_to(ava) == ["Welcome, VIP"]
    assert Enrollment.objects.get(workflow=welcome).trigger == "Tag “vip” added"


def test_stop_if_replied(world, people, make_workflow, clock, committed, settle):
    ava, ben, _ = people
    workflow = make_workflow(send("Want a slot?"), wait(minutes=60), {"kind": "stop_if_replied"}, send("Last chance"))
    with committed():
        enroll(workflow=workflow, contact_ids=[ava.pk, ben.pk], trigger="test")
    settle()
    clock.move_to(NOON + timedelta(minutes=10))
    inbound.inbound_receive(sid="SMreply1", from_=ava.phone, to="+16465550101", body="Yes please, Tuesday")
    clock.move_to(NOON + timedelta(minutes=60))
    with committed():
        runner.enrollments_step_due()
    settle()
    assert texts_to(ava) == ["Want a slot?"] and texts_to(ben) == ["Want a slot?", "Last chance"]
    ava_enrollment = Enrollment.objects.get(contact=ava)
    assert (ava_enrollment.status, ava_enrollment.exit_kind) == ("exited", "replied")


def test_opt_out_ends_the_contacts_enrollments_and_fails_what_was_queued(world, people, make_workflow, clock, committed,
                                                                         settle, memory_provider):  # fmt: skip
    ava = people[0]
    first = make_workflow(send("Hi"), wait(minutes=5), send("Again"), name="A")
    second = make_workflow(wait(minutes=5), send("Other"), name="B")
    with committed():
        enroll(workflow=first, contact_ids=[ava.pk], trigger="test")
        enroll(workflow=second, contact_ids=[ava.pk], trigger="test")
    with committed():
        runner.enrollments_step_due()  # "Hi" is queued, not yet dispatched
    with committed():
        inbound.inbound_receive(sid="SMstop", from_=ava.phone, to="+16465550101", body="stop please")
    assert set(Enrollment.objects.values_list("status", "exit_kind")) == {("exited", "opted_out")}
    assert Message.objects.get(body="Hi").failure_reason == "Recipient opted out."
    clock.move_to(NOON + timedelta(minutes=5))
    settle()
    assert runner.enrollments_step_due()["enrollments"] == 0
    assert [s.body for s in memory_provider.outbox] == [  # only the R3 confirmation
        "You have been unsubscribed from Sunrise Dental Care and will receive no more messages. "
        "Reply START to resubscribe."
    ]
    exited = EnrollmentStep.objects.filter(outcome="exited")
    assert exited.count() == 2 and set(exited.values_list("detail", flat=True)) == {"The contact opted out."}


def test_a_refused_message_is_logged_with_its_reason_and_the_contact_goes_on(world, people, make_workflow, clock,
                                                                             committed, settle):  # fmt: skip
    ava = people[0]
    Contact.objects.filter(pk=ava.pk).update(dnd="temporary")
    workflow = make_workflow(send("Hi"), send("Again"))
    with committed():
        enroll(workflow=workflow, contact_ids=[ava.pk], trigger="test")
    settle()
    log = list(EnrollmentStep.objects.order_by("position").values_list("outcome", "detail"))
    assert log == [("refused", "Cannot send messages as DND is active for SMS.")] * 2
    assert Enrollment.objects.get().status == "completed"


def test_dates_come_up_once(world, people, make_workflow, clock):
    ava, ben, _ = people
    appointment = NOON + timedelta(hours=24)
    Contact.objects.filter(pk__in=[ava.pk, ben.pk]).update(appointment_at=appointment)
    workflow = make_workflow(send("See you tomorrow"), trigger="date", trigger_date_field="appointment_at",
                             trigger_offset_minutes=-24 * 60)  # fmt: skip
    clock.move_to(NOON - timedelta(seconds=1))
    assert triggers.dates_due(timezone.now()) == 0
    clock.move_to(NOON)
    assert triggers.dates_due(timezone.now()) == 2
    assert triggers.dates_due(timezone.now()) == 0  # each date once
    enrollment = Enrollment.objects.filter(workflow=workflow).first()
    assert enrollment.trigger == "Appointment Mar 3, 2026, 12:00 PM EST"
    assert enrollment.trigger_key == f"appointment_at:{appointment.isoformat()}"
    clock.move_to(NOON + triggers.DATE_LATE + timedelta(seconds=1))
    Contact.objects.filter(pk=people[2].pk).update(appointment_at=appointment)  # known only now: too late
    assert triggers.dates_due(timezone.now()) == 0


# --- Every rule applies to workflow messages ------------------------------------------------


def run_workflow(make_workflow, contacts, committed, settle, *steps):
    workflow = make_workflow(*(steps or [send("Hi {first_name}")]))
    with committed():
        enroll(workflow=workflow, contact_ids=[c.pk for c in contacts], trigger="test")
    settle()
    return {m.contact_id: m for m in Message.objects.filter(source="workflow")}


def test_r2_r10_dnd_and_no_consent_are_refused_with_their_reasons(world, people, make_workflow, clock, committed,
                                                                  settle, memory_provider):  # fmt: skip
    ava, ben, cy = people
    Contact.objects.filter(pk=ava.pk).update(dnd="permanent")
    Contact.objects.filter(pk=ben.pk).update(consent="none")
    messages = run_workflow(make_workflow, people, committed, settle)
    assert messages[ava.pk].failure_reason == "Cannot send messages as DND is active for SMS."
    assert messages[ben.pk].failure_reason == "No consent on record for this contact: Workflow messages need an opt-in."
    assert [s.to for s in memory_provider.outbox] == [cy.phone]


def test_r7_the_ramp_counts_workflow_messages_and_fails_what_is_over(world, people, make_workflow, clock, committed,
                                                                     settle, memory_provider):  # fmt: skip
    RampState.objects.filter(sub_account=world.a1).update(level=1, limit_extension=None, window_start=NOON,
                                                          window_count=99, started_at=NOON)  # fmt: skip
    messages = run_workflow(make_workflow, people, committed, settle)
    statuses = sorted(m.status for m in messages.values())
    assert statuses == ["failed", "failed", "sent"]
    assert {m.failure_reason for m in messages.values() if m.status == "failed"} == {
        "You are allowed to send 100 message(s) in a day. You have already sent 99 message(s). "
        "If you wish to proceed, 2 Message(s) will be failed."
    }


def test_r8_a_suspension_fails_workflow_messages(world, people, make_workflow, clock, committed, settle,
                                                 memory_provider):  # fmt: skip
    violation = Violation.objects.create(sub_account=world.a1, kind="error_rate", level="suspension", action="t")
    Suspension.objects.create(sub_account=world.a1, cause="error_rate", violation=violation, started_at=NOON,
                              ends_at=NOON + timedelta(hours=7))  # fmt: skip
    messages = run_workflow(make_workflow, people[:1], committed, settle)
    assert messages[people[0].pk].failure_reason.startswith(
        "Sending is temporarily suspended until Mar 2, 2026, 7:00 PM EST (00:00 UTC)"
    )
    assert memory_provider.outbox == []


def test_r13_a_workflow_message_waits_for_the_recipients_sending_hours(world, people, make_workflow, committed, settle,
                                                                       settings, memory_provider):  # fmt: skip
    settings.COMPLIANCE_POLICY = {"REGISTRATION_REQUIRED": False}  # quiet hours on (the default policy)
    night = NOON.replace(hour=3)  # 22:00 in New York
    with time_machine.travel(night, tick=False):
        messages = run_workflow(make_workflow, people[:1], committed, settle)
    message = messages[people[0].pk]
    assert (message.status, message.send_after) == ("queued", NOON.replace(hour=13))  # 08:00 New York
    assert memory_provider.outbox == []
    with time_machine.travel(NOON.replace(hour=13), tick=False):
        with committed():
            dispatch.sweep()
        settle()
    assert [s.to for s in memory_provider.outbox] == [people[0].phone]


def test_r5_r6_workflow_messages_follow_opt_out_sources(world, people, make_workflow, clock, committed, settle,
                                                        settings, memory_provider):  # fmt: skip
    # Default {bulk}: a workflow's initial message goes as written.
    run_workflow(make_workflow, people[:1], committed, settle, send("Hi {first_name}"))
    assert [s.body for s in memory_provider.outbox] == ["Hi Ava"]
    # Operators may add workflows (the policy document names them): then the initial message
    # gets both texts, a follow-up neither.
    settings.COMPLIANCE_POLICY = {"QUIET_SOURCES": [], "REGISTRATION_REQUIRED": False,
                                  "OPT_OUT_SOURCES": ["bulk", "workflow"],
                                  "SENDER_ID_SOURCES": ["bulk", "workflow"]}  # fmt: skip
    memory_provider.reset()
    run_workflow(make_workflow, people[1:2], committed, settle, send("Hi {first_name}"), send("Still there?"))
    # Which is initial is what counts here; under the frozen clock both have one created_at, so
    # the order they are dispatched in is not defined by it.
    assert sorted(s.body for s in memory_provider.outbox) == [
        "Hi Ben\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe",
        "Still there?",
    ]


def test_a_workflow_paused_between_the_claim_and_the_step_is_not_stepped_and_its_claim_goes_back(
    world, people, make_workflow, clock, committed, settle, memory_provider
):
    from messaging.automations import controls

    workflow = make_workflow(send("Hi"))
    enroll(workflow=workflow, contact_ids=[people[0].pk], trigger="test")
    token, claimed = runner.claim(timezone.now())
    controls.workflow_pause(workflow=workflow, user=world.a1_owner)
    assert runner.run(claimed, token, timezone.now()) == 0
    assert Enrollment.objects.get().claim_token is None  # not held for STALE_AFTER
    with committed():
        controls.workflow_resume(workflow=workflow, user=world.a1_owner)
    settle()
    assert [s.body for s in memory_provider.outbox] == ["Hi"]


def test_a_step_the_send_path_refuses_outright_is_logged_and_the_contact_goes_on(world, people, make_workflow, clock):
    workflow = make_workflow({"kind": "send_sms", "body": "   "}, send("Second"))
    enroll(workflow=workflow, contact_ids=[people[0].pk], trigger="test")
    runner.enrollments_step_due()
    log = list(EnrollmentStep.objects.order_by("position").values_list("outcome", "detail"))
    assert log == [("refused", "The message is empty."), ("queued", "")]
