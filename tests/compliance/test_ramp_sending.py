"""R7 through the send path: every source counts (keyword replies excepted), refusals with the
exact texts, capacity released when a message fails before the carrier."""

from datetime import timedelta

import pytest
import time_machine
from django.db.models import Count
from django.utils import timezone

from compliance.models import RampState
from messaging import dispatch, inbound, services
from messaging.models import Contact, Message, Status
from messaging.providers import ProviderRejected
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db
EXCEEDED = "You have exceeded your SMS sending limit."


@pytest.fixture
def contacts(world):
    return Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1305555{i:04d}", consent="granted") for i in range(120)
    )


def one_to_one(world, contact, body="Hi"):
    return services.message_send_one(sub_account=world.a1, contact=contact, body=body, source="one_to_one")


def window_count(world):
    state = RampState.objects.filter(sub_account=world.a1).first()
    return state.window_count if state else 0


def test_bulk_over_the_limit_fails_the_excess_with_the_sentence(world, contacts):
    one_to_one(world, contacts[0])
    messages = services.messages_send(sub_account=world.a1, contacts=contacts[1:111], body="Promo", source="bulk")
    statuses = [m.status for m in messages]
    assert statuses.count(Status.QUEUED) == 99 and statuses.count(Status.FAILED) == 11
    assert messages[-1].failure_reason == (
        "You are allowed to send 100 message(s) in a day. You have already sent 1 message(s). "
        "If you wish to proceed, 11 Message(s) will be failed."
    )
    assert window_count(world) == 100


def test_one_to_one_refused_during_the_restriction_then_level_2(world, contacts):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        services.messages_send(sub_account=world.a1, contacts=contacts[:100], body="Promo", source="bulk")
        assert RampState.objects.get(sub_account=world.a1).restricted_until == start + timedelta(hours=24)
    with time_machine.travel(start + timedelta(hours=23, minutes=59, seconds=59)):
        refused = one_to_one(world, contacts[100])
        assert (refused.status, refused.failure_reason) == (Status.FAILED, EXCEEDED)
    with time_machine.travel(start + timedelta(hours=24)):
        assert one_to_one(world, contacts[100]).status == Status.QUEUED
        state = RampState.objects.get(sub_account=world.a1)
        assert (state.level, state.window_count) == (2, 1)


@pytest.mark.parametrize("source", ["one_to_one", "workflow", "campaign", "test", "resend", "missed_call_text_back"])
def test_every_source_counts(world, contacts, source):
    services.message_send_one(sub_account=world.a1, contact=contacts[0], body="x", source=source)
    assert window_count(world) == 1


def test_missed_call_text_back_through_the_webhook_counts(client, world):
    world.a1.missed_call_text_back = True
    world.a1.save()
    params = {"CallSid": "CA9", "From": "+12125550999", "To": "+16465550101", "CallStatus": "no-answer"}
    post_signed(client, "/webhooks/twilio/voice-status", params)
    assert window_count(world) == 1


def test_keyword_replies_are_exempt(client, world, contacts):
    services.messages_send(sub_account=world.a1, contacts=contacts[:100], body="Promo", source="bulk")
    params = {"MessageSid": "SMs", "From": contacts[0].phone, "To": "+16465550101", "Body": "remove me"}
    post_signed(client, "/webhooks/twilio/inbound", params)
    reply = Message.objects.get(source="keyword_reply")
    assert reply.status == Status.QUEUED and reply.ramp_window is None  # sent despite the restriction
    assert window_count(world) == 99  # the opted-out contact's queued promo gave its capacity back


def test_capacity_is_released_when_a_message_fails_before_the_carrier(world, contacts, memory_provider):
    memory_provider.script[contacts[0].phone] = [ProviderRejected("21211", "Invalid number")]
    message = one_to_one(world, contacts[0])
    assert window_count(world) == 1
    dispatch.dispatch_batch([str(message.pk)])
    assert window_count(world) == 0


def test_capacity_is_released_when_an_opt_out_fails_queued_messages(client, world, contacts):
    services.messages_send(sub_account=world.a1, contacts=contacts[:3], body="Promo", source="bulk")
    post_signed(client, "/webhooks/twilio/inbound",
                {"MessageSid": "SMs", "From": contacts[0].phone, "To": "+16465550101", "Body": "STOP"})  # fmt: skip
    assert window_count(world) == 2


def test_refused_by_a_rule_takes_no_capacity(world, contacts):
    Contact.objects.filter(pk=contacts[0].pk).update(dnd="permanent")
    assert one_to_one(world, contacts[0]).status == Status.FAILED
    assert window_count(world) == 0


# --- Scheduled messages count in the window they are sent in ---------------------------------


def test_r7_scheduling_reserves_nothing_today(world, contacts):
    later = timezone.now() + timedelta(days=7)
    scheduled = services.messages_send(
        sub_account=world.a1, contacts=contacts[:100], body="Next week", source="campaign", send_after=later
    )
    assert {m.status for m in scheduled} == {Status.QUEUED} and {m.ramp_window for m in scheduled} == {None}
    assert window_count(world) == 0
    assert one_to_one(world, contacts[100]).status == Status.QUEUED  # today is not restricted


def test_r7_a_scheduled_send_is_counted_and_limited_when_it_goes(world, contacts, memory_provider):
    start = timezone.now()
    later = start + timedelta(days=7)
    scheduled = services.messages_send(
        sub_account=world.a1, contacts=contacts[:110], body="Next week", source="campaign", send_after=later
    )
    with time_machine.travel(later + timedelta(minutes=1), tick=False):
        one_to_one(world, contacts[110])  # the new window's first message
        dispatch.dispatch_batch([str(m.pk) for m in scheduled])
        statuses = dict(Message.objects.filter(source="campaign").values_list("status").annotate(n=Count("pk")))
        assert statuses == {Status.SENT: 99, Status.FAILED: 11}
        failed = Message.objects.filter(source="campaign", status=Status.FAILED).first()
        assert failed.failure_reason == (
            "You are allowed to send 100 message(s) in a day. You have already sent 1 message(s). "
            "If you wish to proceed, 11 Message(s) will be failed."
        )
        state = RampState.objects.get(sub_account=world.a1)
        assert state.window_count == 100 and state.restricted_until == later + timedelta(minutes=1, hours=24)
    assert len(memory_provider.outbox) == 99


def test_r7_a_scheduled_message_opted_out_before_it_goes_takes_no_capacity(world, contacts):
    later = timezone.now() + timedelta(hours=2)
    [message] = services.messages_send(
        sub_account=world.a1, contacts=contacts[:1], body="Later", source="campaign", send_after=later
    )
    inbound.inbound_receive(sid="SMstop1", from_=contacts[0].phone, to="+16465550101", body="STOP")
    with time_machine.travel(later, tick=False):
        dispatch.dispatch_batch([str(message.pk)])
    message.refresh_from_db()
    assert message.status == Status.FAILED and window_count(world) == 0  # the STOP confirmation is exempt (R3)
