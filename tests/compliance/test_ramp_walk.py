"""R7 walked through the real send service (`messages_send` / `message_send_one`), with the
clock moved to the exact boundaries: from the first send to level 8. The arithmetic alone is in
test_rules_ramp.py; single steps of the send path are in test_ramp_sending.py.

The walk runs on small limits (an operator setting, R7 "every number is a default") so that it
stays fast; `test_levels_1_and_2_at_the_real_numbers` keeps the default numbers honest."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from compliance import limits
from compliance.models import RampState
from messaging import dispatch, inbound, services
from messaging.models import Contact, Message, Status
from messaging.providers import ProviderRejected
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

EXCEEDED = "You have exceeded your SMS sending limit."
T0 = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
DAY = timedelta(hours=24)
SECOND = timedelta(seconds=1)
SMALL = [3, 5, 7, 9, 11, 13, 15, 17]
NUMBER = "+16465550101"  # Sunrise Dental's number


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def small_ramp(settings):
    settings.COMPLIANCE_POLICY = {**settings.COMPLIANCE_POLICY, "RAMP_LIMITS": SMALL}


def make_contacts(world, n):
    return Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1718555{i:04d}", consent="granted") for i in range(n)
    )


def bulk(world, contacts, n):
    return services.messages_send(sub_account=world.a1, contacts=contacts[:n], body="Promo", source="bulk")


def one_to_one(world, contact):
    return services.message_send_one(sub_account=world.a1, contact=contact, body="Hi", source="one_to_one")


def all_queued(messages):
    return {m.status for m in messages} == {Status.QUEUED}


def is_refused(message):
    """The limit+1-th: failed with exactly the R7 sentence, holding no ramp capacity."""
    return (message.status, message.failure_reason, message.ramp_window) == (Status.FAILED, EXCEEDED, None)


def stored(world):
    s = RampState.objects.get(sub_account=world.a1)
    return s.level, s.window_start, s.window_count, s.restricted_until


def card(world):
    """The ramp as it stands at the (travelled) current time, rolled forward, nothing written."""
    return limits.ramp_card(world.a1, timezone.now())


def test_walk_from_the_first_send_to_level_8(world, clock, small_ramp):
    """R7, level by level: a window of limit − 1 ends short and keeps the level; the next window
    takes exactly the limit in bulk, which restricts the sub-account from that moment for 24 h
    (the limit+1-th one-to-one refused, also at 24 h − 1 s); at 24 h exactly the next level is
    unlocked. Level 8 refreshes each window and never restricts."""
    contacts = make_contacts(world, max(SMALL) + 1)
    extra = contacts[-1]
    assert not RampState.objects.filter(sub_account=world.a1, started_at__isnull=False).exists()  # not at sign-up
    now = T0
    for level, limit in enumerate(SMALL[:-1], start=1):
        # limit − 1 in a window: the level does not advance.
        assert all_queued(bulk(world, contacts, limit - 1))
        assert stored(world) == (level, now, limit - 1, None)
        clock.move_to(now + DAY - SECOND)
        assert (card(world).level, card(world).sent) == (level, limit - 1)
        now += DAY
        clock.move_to(now)
        assert (card(world).level, card(world).sent, card(world).restricted_until) == (level, 0, None)

        # The next window opens at the same level and takes exactly the limit, in bulk.
        assert all_queued(bulk(world, contacts, limit))
        assert stored(world) == (level, now, limit, now + DAY)  # restricted from the moment it was reached

        # The limit+1-th is refused for the next 24 hours, to the second.
        for moment in (now, now + SECOND, now + DAY - SECOND):
            clock.move_to(moment)
            assert is_refused(one_to_one(world, extra)), (level, moment)
        assert stored(world)[2:] == (limit, now + DAY)  # refusals take no capacity

        # 24 h exactly: the restriction ends and the next level is unlocked.
        now += DAY
        clock.move_to(now)
        assert (card(world).level, card(world).limit, card(world).restricted_until) == (level + 1, SMALL[level], None)

    assert RampState.objects.get(sub_account=world.a1).started_at == T0  # the ramp started with the first send

    # Level 8: the limit refreshes each window and never restricts beyond it.
    top = SMALL[-1]
    for _window in range(3):
        assert all_queued(bulk(world, contacts, top))
        assert stored(world) == (8, now, top, None)
        clock.move_to(now + DAY - SECOND)
        assert is_refused(one_to_one(world, extra))  # the window is full, not restricted
        now += DAY
        clock.move_to(now)
        assert (card(world).level, card(world).sent, card(world).restricted_until) == (8, 0, None)
    assert all_queued([one_to_one(world, extra)])
    assert stored(world) == (8, now, 1, None)


def test_levels_1_and_2_at_the_real_numbers(world, clock):
    """R7 with the default limits (100, 250): the same boundaries as the walk, and a bulk send
    during the restriction is failed whole with the bulk sentence."""
    contacts = make_contacts(world, 251)
    extra = contacts[-1]
    assert all_queued(bulk(world, contacts, 99))
    now = T0 + DAY  # a window of 99 ends short: still level 1
    clock.move_to(now)
    assert (card(world).level, card(world).limit) == (1, 100)

    assert all_queued(bulk(world, contacts, 100))
    assert stored(world) == (1, now, 100, now + DAY)
    clock.move_to(now + SECOND)
    assert is_refused(one_to_one(world, extra))
    messages = bulk(world, contacts, 5)
    assert {(m.status, m.failure_reason) for m in messages} == {
        (
            Status.FAILED,
            "You are allowed to send 100 message(s) in a day. You have already sent 100 message(s). "
            "If you wish to proceed, 5 Message(s) will be failed.",
        )
    }
    clock.move_to(now + DAY - SECOND)
    assert is_refused(one_to_one(world, extra))

    now += DAY
    clock.move_to(now)
    assert all_queued(bulk(world, contacts, 249))  # level 2: 249 of 250 does not restrict
    assert stored(world) == (2, now, 249, None)
    assert all_queued([one_to_one(world, extra)])  # the 250th reaches the limit
    assert stored(world) == (2, now, 250, now + DAY)
    clock.move_to(now + DAY - SECOND)
    assert is_refused(one_to_one(world, extra))
    clock.move_to(now + DAY)
    assert (card(world).level, card(world).limit) == (3, 500)


def test_missed_call_text_back_counts_and_is_refused_during_the_restriction(client, world, clock, small_ramp):
    """R7 "every outbound SMS of every source counts (missed-call text back too)": a text back
    can be the message that reaches the limit, and is refused like any other during the
    restriction — through the service and through the voice webhook."""
    world.a1.missed_call_text_back = True
    world.a1.save(update_fields=["missed_call_text_back"])
    contacts = make_contacts(world, 2)
    assert all_queued(bulk(world, contacts, 2))

    clock.move_to(T0 + timedelta(hours=2))
    reached = timezone.now()
    text_back = inbound.missed_call_handle(call_sid="CA1", from_="+12125550901", to=NUMBER, status="no-answer")
    assert (text_back.source, text_back.status) == ("missed_call_text_back", Status.QUEUED)
    assert stored(world) == (1, T0, 3, reached + DAY)  # the limit was reached by the text back

    clock.move_to(reached + DAY - SECOND)
    params = {"CallSid": "CA2", "From": "+12125550902", "To": NUMBER, "CallStatus": "no-answer"}
    assert post_signed(client, "/webhooks/twilio/voice-status", params).status_code == 200
    assert is_refused(Message.objects.get(batch="call:CA2"))

    clock.move_to(reached + DAY)
    params = {"CallSid": "CA3", "From": "+12125550903", "To": NUMBER, "CallStatus": "busy"}
    assert post_signed(client, "/webhooks/twilio/voice-status", params).status_code == 200
    assert Message.objects.get(batch="call:CA3").status == Status.QUEUED
    assert stored(world) == (2, reached + DAY, 1, None)


def test_keyword_replies_are_not_counted_in_an_open_window_nor_blocked_by_the_restriction(client, world, clock,
                                                                                            small_ramp):  # fmt: skip
    """R3/R7: keyword replies (HELP here) are compliance messages: they take no capacity and go
    out during the restriction."""
    contacts = make_contacts(world, 3)

    def help_from(contact, sid):
        params = {"MessageSid": sid, "From": contact.phone, "To": NUMBER, "Body": "HELP"}
        assert post_signed(client, "/webhooks/twilio/inbound", params).status_code == 200
        return Message.objects.filter(source="keyword_reply", contact=contact).latest("created_at")

    assert all_queued(bulk(world, contacts, 1))
    reply = help_from(contacts[0], "SMh1")
    assert (reply.status, reply.ramp_window) == (Status.QUEUED, None)
    assert stored(world) == (1, T0, 1, None)

    assert all_queued(bulk(world, contacts, 2))  # 3 of 3: restricted
    clock.move_to(T0 + timedelta(hours=1))
    reply = help_from(contacts[1], "SMh2")
    assert (reply.status, reply.ramp_window) == (Status.QUEUED, None)
    assert stored(world) == (1, T0, 3, T0 + DAY)
    assert is_refused(one_to_one(world, contacts[2]))  # …while the restriction holds for everything else


def test_a_refused_first_message_does_not_start_the_ramp(world, clock):
    """R7 "the ramp starts with the first successfully sent SMS": one refused by a rule (DND)
    opens no window."""
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent")
    assert one_to_one(world, world.a1_contact).status == Status.FAILED
    assert not RampState.objects.filter(sub_account=world.a1, started_at__isnull=False).exists()
    assert card(world).headline == "Unlock Level 2 by sending 100 messages within 24 hours of your next send"


def test_a_first_message_rejected_by_the_provider_opens_no_window(world, clock, memory_provider):
    """R7: T0 a message the provider rejects (never sent); T0+23h 60 sent; T0+24h+1s 40 more.
    The window opened with the first *sent* SMS (T0+23h) holds all 100 → restricted."""
    contacts = make_contacts(world, 100)
    memory_provider.script[contacts[0].phone] = [ProviderRejected("21211", "Invalid 'To' Phone Number")]
    rejected = one_to_one(world, contacts[0])
    dispatch.dispatch_batch([str(rejected.pk)])
    assert Message.objects.get(pk=rejected.pk).status == Status.FAILED
    assert RampState.objects.get(sub_account=world.a1).window_count == 0

    clock.move_to(T0 + timedelta(hours=23))
    assert all_queued(bulk(world, contacts, 60))
    clock.move_to(T0 + DAY + SECOND)
    assert all_queued(bulk(world, contacts[60:], 40))
    first_sent = T0 + timedelta(hours=23)
    assert stored(world) == (1, first_sent, 100, T0 + DAY + SECOND + DAY)
