"""The dispatch-wave pause check: what a paused bulk send, campaign, workflow or "pause all" owns
is held before the next wave — back to `queued`, not failed — in one query per wave."""

import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from compliance.models import RampState
from messaging import bulk, dispatch, services
from messaging.automations import controls, pausing
from messaging.automations.enrolling import enroll
from messaging.automations.runner import enrollments_step_due
from messaging.models import Contact, Message, Status
from messaging.providers import memory
from tests.messaging.automations.conftest import send

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(world):
    world.ramp_at_top(world.a1)
    return Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1212888{i:04d}", consent="granted") for i in range(12)
    )


def bulk_send(world, contacts):
    return bulk.bulk_send_start(
        sub_account=world.a1, user=world.a1_owner, body="Offer", contact_ids=[c.pk for c in contacts],
        audience_label="All", send_at=None, from_numbers=["+16465550101"],
    )  # fmt: skip


def test_claimed_messages_of_a_paused_send_are_held_by_the_next_recheck(world, many):
    sent = bulk_send(world, many[:6])
    reply = services.message_send_one(sub_account=world.a1, contact=many[7], body="Hi", source="one_to_one")
    _token, claimed = dispatch.claim([m.pk for m in sent.messages.all()] + [reply.pk], timezone.now())
    assert len(claimed) == 7
    controls.bulk_pause(bulk=sent, user=world.a1_owner)  # while a dispatch run holds them
    ready = dispatch.recheck(claimed)
    assert [m.pk for m in ready] == [reply.pk]
    held = sent.messages.all()
    assert set(held.values_list("status", "send_after", "claim_token")) == {("queued", pausing.PAUSED_UNTIL, None)}
    assert not held.filter(status=Status.FAILED).exists()


def test_the_check_is_one_query_per_wave_whatever_its_size(world, many, django_assert_num_queries):
    messages = services.messages_send(sub_account=world.a1, contacts=many, body="Offer", source="bulk")
    with django_assert_num_queries(1):
        assert pausing.hold_paused(messages) == messages
    replies = services.messages_send(sub_account=world.a1, contacts=many, body="Hi", source="one_to_one")
    with django_assert_num_queries(0):  # one-to-one is never paused: not even looked up
        pausing.hold_paused(replies)


def test_a_bulk_wave_is_checked_by_its_sends_status_alone(world, many, django_assert_num_queries):
    """Messages of a bulk send: one primary-key lookup of their sends, paused or not."""
    running, paused = bulk_send(world, many[:6]), bulk_send(world, many[6:])
    controls.bulk_pause(bulk=paused, user=world.a1_owner)
    messages = list(Message.objects.filter(bulk_send__in=[running, paused]))
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=Status.SENDING)  # as claimed
    with django_assert_num_queries(1):
        held = pausing.paused_bulk_ids(messages)
    assert held == {m.pk for m in messages if m.bulk_send_id == paused.pk}
    assert pausing.paused_ids([m.pk for m in messages]) == held  # the general check agrees


def test_a_workflow_message_is_held_when_its_workflow_is_paused(world, people, make_workflow, committed):
    workflow = make_workflow(send("Hi"))
    enroll(workflow=workflow, contact_ids=[people[0].pk], trigger="test")
    enrollments_step_due()
    message = Message.objects.get(source="workflow")
    assert pausing.paused_ids([message.pk]) == set()
    workflow.status = "paused"
    workflow.save(update_fields=["status"])
    assert pausing.paused_ids([message.pk]) == {message.pk}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks (CI runs it)")
def test_pause_all_stops_hand_offs_within_one_dispatch_wave(world, settings):
    """Real threads, real transactions: a batch is being handed to the carrier, a user presses
    "pause all"; at most the wave already on its way goes, the rest waits (queued, not failed)."""
    settings.SMS_MAX_CONCURRENCY = 4
    memory.latency["seconds"] = 0.02
    world.ramp_at_top(world.a1)
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1212999{i:04d}", consent="granted") for i in range(60)
    )
    sent = bulk_send(world, contacts)
    ids = [str(pk) for pk in sent.messages.values_list("pk", flat=True)]
    paused = {}

    def run_dispatch():
        try:
            dispatch.dispatch_batch(ids)
        finally:
            connections.close_all()

    def pause_all():
        try:
            while len(memory.outbox) < 10:  # let the batch get going
                time.sleep(0.005)
            controls.sending_pause_all(sub_account=world.a1, user=world.a1_owner)
            paused["outbox"] = len(memory.outbox)  # committed
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_dispatch), threading.Thread(target=pause_all)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert "outbox" in paused, "the pause thread did not finish"
    went = len(memory.outbox)
    assert 10 <= went < 60
    assert went - paused["outbox"] <= settings.SMS_MAX_CONCURRENCY  # at most the wave on its way
    rows = Message.objects.filter(pk__in=ids)
    assert rows.filter(status=Status.SENT).count() == went
    assert set(rows.exclude(status=Status.SENT).values_list("status", "send_after")) == {
        ("queued", pausing.PAUSED_UNTIL)
    }
    assert RampState.objects.get(sub_account=world.a1).window_count == went  # R7: held ones gave theirs back
