"""The send pipeline: one service writes rows, dispatch claims, sends with bounded concurrency
and records; running twice, overlapping, killed workers and provider errors (STYLE "data flow")."""

from datetime import timedelta

import django_rq
import pytest
import time_machine
from django.utils import timezone

from messaging import dispatch, services
from messaging.models import Contact, Message, Source, Status
from messaging.providers import ProviderOutcomeUnknown, ProviderRejected, ProviderRetryable

pytestmark = pytest.mark.django_db


@pytest.fixture
def consented(world):
    contacts = [
        Contact.objects.create(sub_account=world.a1, phone=f"+1212555{i:04d}", consent="granted") for i in range(3)
    ]
    return contacts


def send(world, contacts, source=Source.BULK, **kwargs):
    return services.messages_send(sub_account=world.a1, contacts=contacts, body="Hello", source=source, **kwargs)


def test_send_writes_queued_rows_and_dispatch_sends_them(world, consented, run_jobs, memory_provider,
                                                         django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        messages = send(world, consented)
    assert {m.status for m in messages} == {Status.QUEUED}
    run_jobs()
    assert sorted(s.to for s in memory_provider.outbox) == sorted(c.phone for c in consented)
    for m in Message.objects.filter(pk__in=[m.pk for m in messages]):
        assert m.status == Status.SENT and m.provider_sid.startswith("SM") and m.sent_at
        assert list(m.events.values_list("status", flat=True)) == ["queued", "sent"]
    assert memory_provider.outbox[0].from_ == "+16465550101"
    assert memory_provider.outbox[0].status_callback.endswith("/webhooks/twilio/status")


def test_nothing_is_enqueued_before_commit(world, consented):
    send(world, consented)  # the test transaction never commits
    assert django_rq.get_queue("dispatch").count == 0


def test_sends_are_coalesced_into_one_due_run_per_lane_not_one_job_each(
    world, settings, django_capture_on_commit_callbacks, run_jobs, memory_provider
):
    settings.SMS_DISPATCH_BATCH = 500
    world.ramp_at_top(world.a1)
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1305555{i:04d}", consent="granted") for i in range(1200)
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(world, contacts)  # one bulk send of 1,200
        for contact in contacts[:50]:  # …and 50 single sends arriving one at a time
            services.message_send_one(sub_account=world.a1, contact=contact, body="Hi", source=Source.ONE_TO_ONE)
    bulk_jobs, person_jobs = django_rq.get_queue("dispatch").jobs, django_rq.get_queue("dispatch_person").jobs
    assert [(j.func_name, j.args) for j in bulk_jobs] == [("messaging.dispatch.dispatch_due", (dispatch.BULK,))]
    assert [(j.func_name, j.args) for j in person_jobs] == [("messaging.dispatch.dispatch_due", (dispatch.PERSON,))]
    run_jobs()
    assert len(memory_provider.outbox) == 1250
    assert not Message.objects.filter(status__in=[Status.QUEUED, Status.SENDING]).exists()


def test_a_due_run_claims_in_batches_and_queues_a_helper_while_more_are_due(world, settings, run_jobs):
    """A full batch claimed means more may be waiting: the next free worker gets a run too."""
    settings.SMS_DISPATCH_BATCH = 2
    world.ramp_at_top(world.a1)
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1305557{i:04d}", consent="granted") for i in range(5)
    )
    send(world, contacts)  # not committed: nothing queued yet
    assert dispatch.dispatch_due(dispatch.BULK) == {"claimed": 5, "sent_to_provider": 5}
    assert django_rq.get_queue("dispatch").count == 1  # queued after the first full batch
    assert dispatch.dispatch_due(dispatch.BULK) == {"claimed": 0, "sent_to_provider": 0}


def test_a_job_run_twice_sends_each_message_once(world, consented, memory_provider):
    ids = [str(m.pk) for m in send(world, consented)]
    assert dispatch.dispatch_batch(ids) == {"claimed": 3, "sent_to_provider": 3}
    assert dispatch.dispatch_batch(ids) == {"claimed": 0, "sent_to_provider": 0}
    assert len(memory_provider.outbox) == 3


def test_overlapping_claims_never_share_a_message(world, consented):
    ids = [m.pk for m in send(world, consented)]
    now = timezone.now()
    _, first = dispatch.claim(ids, now)
    _, second = dispatch.claim(ids, now)
    assert len(first) == 3 and second == []


def test_provider_rejection_fails_that_message_and_not_the_batch(world, consented, memory_provider):
    memory_provider.script[consented[1].phone] = [ProviderRejected("21211", "Invalid 'To' Phone Number")]
    ids = [str(m.pk) for m in send(world, consented)]
    dispatch.dispatch_batch(ids)
    statuses = {m.to_number: m for m in Message.objects.filter(pk__in=ids)}
    rejected = statuses[consented[1].phone]
    assert rejected.status == Status.FAILED and rejected.error_code == "21211"
    assert rejected.failure_reason == "Rejected by the carrier (21211): Invalid 'To' Phone Number"
    assert statuses[consented[0].phone].status == statuses[consented[2].phone].status == Status.SENT


def test_429_is_retried_with_backoff_then_sent(world, consented, memory_provider, settings):
    settings.SMS_RETRY_BACKOFF_SECONDS = 0
    memory_provider.script[consented[0].phone] = [ProviderRetryable("429"), ProviderRetryable("20429")]
    ids = [str(m.pk) for m in send(world, consented[:1])]
    dispatch.dispatch_batch(ids)
    assert Message.objects.get(pk=ids[0]).status == Status.SENT
    assert len(memory_provider.outbox) == 1


def test_429_that_persists_goes_back_to_the_queue_unsent(world, consented, memory_provider, settings):
    settings.SMS_RETRY_BACKOFF_SECONDS = 0
    memory_provider.script[consented[0].phone] = [ProviderRetryable("429")] * 4
    ids = [str(m.pk) for m in send(world, consented[:1])]
    dispatch.dispatch_batch(ids)
    message = Message.objects.get(pk=ids[0])
    assert message.status == Status.QUEUED and message.send_after > timezone.now()
    assert memory_provider.outbox == []


def test_unknown_outcome_is_marked_not_resent(world, consented, memory_provider):
    memory_provider.script[consented[0].phone] = [ProviderOutcomeUnknown("read timeout")]
    ids = [str(m.pk) for m in send(world, consented[:1])]
    dispatch.dispatch_batch(ids)
    assert Message.objects.get(pk=ids[0]).status == Status.UNKNOWN
    dispatch.dispatch_batch(ids)
    assert memory_provider.outbox == []


def test_dnd_set_after_queueing_is_rechecked_at_dispatch(world, consented, memory_provider):
    """R2 at dispatch time: DND that arrives between queueing and sending still blocks."""
    ids = [str(m.pk) for m in send(world, consented[:1])]
    Contact.objects.filter(pk=consented[0].pk).update(dnd="permanent")
    dispatch.dispatch_batch(ids)
    message = Message.objects.get(pk=ids[0])
    assert message.status == Status.FAILED
    assert message.failure_reason == "Cannot send messages as DND is active for SMS."
    assert memory_provider.outbox == []


def test_killed_worker_after_provider_accepted_is_reconciled_as_sent(world, consented, memory_provider):
    """The worker claimed the row and the provider accepted the message, then the worker died
    before recording it: the sweep finds it at the provider and records it, never re-sending."""
    ids = [str(m.pk) for m in send(world, consented[:1])]
    with time_machine.travel(timezone.now() - timedelta(minutes=30)):
        _, claimed = dispatch.claim(ids, timezone.now())
        dispatch.hand_off(claimed, timezone.now())
        dispatch.get_provider().send(
            dispatch.OutgoingSms(
                str(claimed[0].pk), claimed[0].to_number, claimed[0].from_number, claimed[0].body_sent, ""
            )
        )  # …and the process is killed here
    dispatch.sweep()
    message = Message.objects.get(pk=ids[0])
    assert message.status == Status.SENT and message.provider_sid
    assert len(memory_provider.outbox) == 1


def test_killed_worker_before_handing_off_goes_back_to_the_queue_and_is_sent_once(world, consented, memory_provider):
    ids = [str(m.pk) for m in send(world, consented[:1])]
    start = timezone.now()
    with time_machine.travel(start):
        dispatch.claim(ids, timezone.now())  # …and the process is killed here
    with time_machine.travel(start + timedelta(minutes=21)):
        dispatch.sweep()
        assert Message.objects.get(pk=ids[0]).status == Status.QUEUED
        dispatch.dispatch_batch(ids)
    assert Message.objects.get(pk=ids[0]).status == Status.SENT
    assert len(memory_provider.outbox) == 1


def test_killed_worker_mid_call_is_failed_after_reconciling_never_resent(world, consented, memory_provider):
    """Handed off, but the provider has no record of it: the outcome is unknown, so it is
    reconciled and finally failed with a reason, never re-sent blindly."""
    ids = [str(m.pk) for m in send(world, consented[:1])]
    start = timezone.now()
    with time_machine.travel(start):
        _, claimed = dispatch.claim(ids, timezone.now())
        dispatch.hand_off(claimed, timezone.now())  # …and the process is killed here
    with time_machine.travel(start + timedelta(minutes=21)):
        dispatch.sweep()
        assert Message.objects.get(pk=ids[0]).status == Status.UNKNOWN
    with time_machine.travel(start + timedelta(minutes=61)):
        dispatch.sweep()
    message = Message.objects.get(pk=ids[0])
    assert message.status == Status.FAILED and message.failure_reason == dispatch.INTERRUPTED
    assert memory_provider.outbox == []


def test_sweep_enqueues_due_scheduled_messages(world, consented, django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        messages = send(world, consented[:1], source=Source.CAMPAIGN, send_after=later)
    assert django_rq.get_queue("dispatch").count == 0
    assert dispatch.dispatch_batch([str(messages[0].pk)])["claimed"] == 0  # not due yet
    with time_machine.travel(later + timedelta(seconds=1)):
        dispatch.sweep()
    assert django_rq.get_queue("dispatch").count == 1


def test_refused_recipients_get_failed_rows_with_reasons(world):
    no_consent = Contact.objects.create(sub_account=world.a1, phone="+12125550300")
    dnd = Contact.objects.create(sub_account=world.a1, phone="+12125550301", dnd="temporary", consent="granted")
    by_phone = {m.to_number: m for m in send(world, [no_consent, dnd], source=Source.WORKFLOW)}
    assert by_phone[no_consent.phone].status == Status.FAILED
    assert "No consent on record" in by_phone[no_consent.phone].failure_reason
    assert by_phone[dnd.phone].failure_reason == "Cannot send messages as DND is active for SMS."


def test_sub_account_without_a_number_fails_with_reason(world):
    world.a1.phone_numbers.all().delete()
    message = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="Hi", source="one_to_one")
    assert (
        message.status == Status.FAILED
        and message.failure_reason == "This sub-account has no phone number to send from."
    )


def test_empty_body_is_refused(world):
    with pytest.raises(services.MessagingError, match="empty"):
        services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="  ", source="one_to_one")


def test_provider_calls_in_flight_are_bounded_by_sms_max_concurrency(world, settings, monkeypatch, memory_provider):
    """Dispatch overlaps provider calls (more than one in flight) but never more than
    SMS_MAX_CONCURRENCY at once: the provider's rate limit is not ours to exceed."""
    import threading

    from messaging.providers import memory
    from messaging.providers.memory import MemoryProvider

    settings.SMS_MAX_CONCURRENCY = 4
    memory.latency["seconds"] = 0.02  # a provider round trip, long enough for calls to overlap
    world.ramp_at_top(world.a1)
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1305556{i:04d}", consent="granted") for i in range(40)
    )
    lock, in_flight, peak = threading.Lock(), [0], [0]
    original = MemoryProvider.send

    def counting_send(self, sms):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return original(self, sms)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(MemoryProvider, "send", counting_send)
    ids = [str(m.pk) for m in send(world, contacts)]
    assert dispatch.dispatch_batch(ids) == {"claimed": 40, "sent_to_provider": 40}
    assert 1 < peak[0] <= settings.SMS_MAX_CONCURRENCY
    assert len(memory_provider.outbox) == 40
    assert Message.objects.filter(pk__in=ids, status=Status.SENT).count() == 40


def test_a_bulk_run_serves_waiting_person_messages_between_its_waves(world, settings, memory_provider):
    """Lanes: a one-to-one message never waits for the rest of a bulk batch."""
    settings.SMS_MAX_CONCURRENCY = 2
    world.ramp_at_top(world.a1)
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1305558{i:04d}", consent="granted") for i in range(6)
    )
    bulk_ids = [str(m.pk) for m in send(world, contacts)]
    reply = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="Yes, 10am works",
                                      source=Source.ONE_TO_ONE)  # fmt: skip
    dispatch.dispatch_due_soon(dispatch.PERSON)  # what its commit does
    assert dispatch.dispatch_batch(bulk_ids)["sent_to_provider"] == 6
    order = [sms.message_id for sms in memory_provider.outbox]
    assert order.index(str(reply.pk)) == 2  # after the first wave of two, before the other four


@pytest.mark.django_db(transaction=True)  # on_commit runs for real, inside the request
def test_api_send_while_redis_is_down_is_201_queued_and_the_sweep_sends_it_later(
    world, redis_down, run_jobs, memory_provider, caplog
):
    """The row is committed before the enqueue fails: a 5xx would make the client retry and
    send it twice. It stays `queued`, and the sweep queues a run for it once Redis is back."""
    import json

    from django.test import Client

    from messaging.keys import api_key_create

    raw = api_key_create(sub_account=world.a1, name="Tests")[1]
    with redis_down():
        response = Client().post(
            "/api/v1/messages", json.dumps({"to": world.a1_contact.phone, "body": "Hi", "source": "one_to_one"}),
            content_type="application/json", headers={"Authorization": f"Bearer {raw}"},
        )  # fmt: skip
    assert response.status_code == 201 and response.json()["status"] == "queued"
    assert "the sweep will pick them up" in caplog.text
    run_jobs()
    assert memory_provider.outbox == []
    assert dispatch.sweep()["lanes"] == [dispatch.PERSON]  # the next sweep, within a minute
    run_jobs()
    assert [s.to for s in memory_provider.outbox] == [world.a1_contact.phone]
    assert Message.objects.get().status == Status.SENT


def test_two_messages_to_one_contact_never_share_a_wave_and_go_in_the_order_written(world, settings, memory_provider):
    """A wave's calls run at once: the second message to a person waits for the next wave."""
    settings.SMS_MAX_CONCURRENCY = 10
    world.ramp_at_top(world.a1)
    first = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="One", source="one_to_one")
    second = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="Two", source="one_to_one")
    waves = list(dispatch.waves_of(list(Message.objects.filter(pk__in=[second.pk, first.pk])), 10))
    assert [[m.pk for m in wave] for wave in waves] == [[first.pk], [second.pk]]
    dispatch.dispatch_batch([str(second.pk), str(first.pk)])
    assert [sms.message_id for sms in memory_provider.outbox] == [str(first.pk), str(second.pk)]
