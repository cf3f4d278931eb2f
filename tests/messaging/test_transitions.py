"""The one path for each state change of a message (messaging.transitions): set-based,
conditional on the current status, one event per row it changed, and the ramp capacity (R7) of
exactly those rows given back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import RampState, RateBucket
from messaging import services
from messaging.models import Contact, Message, MessageEvent, Status
from messaging.transitions import messages_fail, messages_mark_unknown, messages_record_sent, messages_requeue

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(world, django_capture_on_commit_callbacks):
    """Five queued one-to-one messages of a1 with their ramp capacity reserved (not dispatched)."""
    world.ramp_at_top(world.a1)
    contacts = [
        Contact.objects.create(sub_account=world.a1, phone=f"+1212555020{i}", consent="granted") for i in range(5)
    ]
    with django_capture_on_commit_callbacks(execute=False):
        messages = services.messages_send(sub_account=world.a1, contacts=contacts, body="Hello", source="one_to_one")
    assert {m.status for m in messages} == {Status.QUEUED}
    return messages


def window_count(sub_account) -> int:
    return RampState.objects.get(sub_account=sub_account).window_count


def events(message_ids, status) -> int:
    return MessageEvent.objects.filter(message_id__in=message_ids, status=status).count()


def test_fail_changes_only_the_rows_still_in_the_given_status_and_gives_back_their_capacity(world, queued):
    ids = [m.pk for m in queued]
    Message.objects.filter(pk=ids[0]).update(status=Status.SENDING, handed_at=timezone.now())  # handed off meanwhile
    before = window_count(world.a1)

    failed = messages_fail(Message.objects.filter(pk__in=ids, status=Status.QUEUED), reason="Nope.", source="test")

    assert failed == set(ids[1:])
    assert Message.objects.get(pk=ids[0]).status == Status.SENDING  # not a candidate any more: untouched
    assert set(Message.objects.filter(pk__in=ids[1:]).values_list("status", "failure_reason")) == {
        (Status.FAILED, "Nope.")
    }
    assert events(ids, Status.FAILED) == 4
    assert window_count(world.a1) == before - 4  # R7: exactly the four that will not reach the carrier


def test_a_second_fail_of_the_same_rows_changes_nothing(world, queued):
    candidates = Message.objects.filter(pk__in=[m.pk for m in queued], status=Status.QUEUED)
    assert len(messages_fail(candidates, reason="First.", source="test")) == 5
    after_first = window_count(world.a1)

    assert messages_fail(candidates, reason="Second.", source="test") == set()
    assert events([m.pk for m in queued], Status.FAILED) == 5
    assert window_count(world.a1) == after_first
    assert not Message.objects.filter(failure_reason="Second.").exists()


def test_fail_can_keep_the_capacity_of_messages_that_may_have_reached_the_carrier(world, queued):
    before = window_count(world.a1)
    messages_fail(Message.objects.filter(pk=queued[0].pk), reason="Unknown.", source="test", give_back_ramp=False)
    assert window_count(world.a1) == before


def test_requeue_with_its_capacity_back_is_reserved_again_later(world, queued):
    ids = [m.pk for m in queued[:2]]
    Message.objects.filter(pk__in=ids).update(status=Status.SENDING, claim_token=None)
    before, later = window_count(world.a1), timezone.now() + timedelta(hours=3)

    again = messages_requeue(
        Message.objects.filter(pk__in=ids, status=Status.SENDING), source="test", detail="Waits.", send_after=later,
        give_back_ramp=True,
    )  # fmt: skip

    assert again == set(ids)
    rows = Message.objects.filter(pk__in=ids)
    assert {(m.status, m.send_after, m.ramp_window, m.handed_at) for m in rows} == {(Status.QUEUED, later, None, None)}
    assert window_count(world.a1) == before - 2
    assert events(ids, Status.QUEUED) == 2 + 2  # created queued, then requeued


def test_mark_unknown_and_record_sent_move_only_rows_in_the_expected_status(world, queued):
    first, second = queued[0], queued[1]
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(status=Status.SENDING)
    assert messages_mark_unknown(Message.objects.filter(pk=first.pk, status=Status.SENDING), source="t", detail="?")

    now = timezone.now()
    recorded = messages_record_sent(
        [(first, "SMfirst", now), (second, "SMsecond", now)], from_status=Status.SENDING, source="test"
    )

    assert recorded == {second.pk}  # the first is `unknown` now, not `sending`
    assert Message.objects.get(pk=second.pk).provider_sid == "SMsecond"
    assert Message.objects.get(pk=first.pk).status == Status.UNKNOWN
    assert RateBucket.objects.get(sub_account=world.a1).outbound == 1  # R8: counted once, for the one recorded
    assert messages_record_sent([(second, "SMsecond", now)], from_status=Status.SENDING, source="test") == set()
    assert RateBucket.objects.get(sub_account=world.a1).outbound == 1


def test_record_sent_counts_a_mixed_wave_per_sub_account_and_hour_and_leaves_keyword_replies_out(world, queued):
    """R8: one recorded wave (one statement on PostgreSQL) bumps each (sub-account, hour) bucket
    by its own rows, writes one `sent` event per recorded row, and a keyword reply (R3) counts
    for nothing."""
    world.ramp_at_top(world.a2)
    other = Contact.objects.create(sub_account=world.a2, phone="+12125550299", consent="granted")
    theirs = services.messages_send(sub_account=world.a2, contacts=[other], body="Hi", source="one_to_one")[0]
    reply = services.messages_send(
        sub_account=world.a1, contacts=[queued[4].contact], body="Bye", source="keyword_reply"
    )
    wave = [*queued[:3], theirs, *reply]
    Message.objects.filter(pk__in=[m.pk for m in wave]).update(status=Status.SENDING)
    noon = timezone.now().replace(hour=12, minute=30, second=0, microsecond=0)
    at = {queued[0].pk: noon, queued[1].pk: noon, queued[2].pk: noon + timedelta(hours=1)}

    recorded = messages_record_sent(
        [(m, f"SM{i}", at.get(m.pk, noon)) for i, m in enumerate(wave)], from_status=Status.SENDING, source="dispatch"
    )

    assert recorded == {m.pk for m in wave}
    buckets = {(b.sub_account_id, b.hour): b.outbound for b in RateBucket.objects.all()}
    assert buckets == {
        (world.a1.pk, noon.replace(minute=0)): 2,
        (world.a1.pk, noon.replace(minute=0) + timedelta(hours=1)): 1,
        (world.a2.pk, noon.replace(minute=0)): 1,
    }
    assert MessageEvent.objects.filter(status=Status.SENT, source="dispatch").count() == len(wave)
    assert set(Message.objects.filter(pk__in=recorded).values_list("status", flat=True)) == {Status.SENT}
    assert Message.objects.get(pk=queued[2].pk).sent_at == noon + timedelta(hours=1)
