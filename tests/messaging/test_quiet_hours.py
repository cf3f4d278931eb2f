"""R13 at hand-off: bulk, campaign and workflow messages wait for the recipient's sending hours
(and are dispatched by the sweep when they open), fail past VALIDITY_HOURS, and the FL/OK cap
holds the fourth message of a day; one-to-one, test, resend, missed-call text back and keyword
replies are exempt. Real dispatch and sweep jobs, time set with time-machine."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from messaging import dispatch, services
from messaging.models import Contact, Message, MessageEvent, Status

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def ny(*args):
    return datetime(2026, 11, 23, *args, tzinfo=NY).astimezone(UTC)


@pytest.fixture(autouse=True)
def quiet_hours_on(settings):
    settings.COMPLIANCE_POLICY = {
        "REGISTRATION_REQUIRED": False
    }  # the policy's defaults: quiet hours for bulk, campaign, workflow


@pytest.fixture
def new_yorker(world):
    world.ramp_at_top(world.a1)
    return Contact.objects.create(sub_account=world.a1, phone="+12125550190", consent="granted")


@pytest.fixture
def floridian(world):
    world.ramp_at_top(world.a1)
    return Contact.objects.create(sub_account=world.a1, phone="+13055550190", consent="granted")


def send(world, contact, source, body="Hello"):
    message = services.messages_send(sub_account=world.a1, contacts=[contact], body=body, source=source)[0]
    dispatch.dispatch_batch([str(message.pk)])
    message.refresh_from_db()
    return message


@pytest.mark.parametrize("source", ["bulk", "workflow"])
def test_r13_held_at_night_and_sent_by_the_sweep_when_the_window_opens(world, new_yorker, memory_provider, source):
    with time_machine.travel(ny(22, 30), tick=False):
        message = send(world, new_yorker, source)
        assert (message.status, message.send_after) == (Status.QUEUED, ny(8, 0).replace(day=24))
        event = MessageEvent.objects.filter(message=message).latest("created_at")
        assert event.detail == (
            "Waiting for the recipient's sending hours (08:00–21:00 America/New_York). "
            "Goes at Nov 24, 2026, 8:00 AM EST."
        )
        assert memory_provider.outbox == []
    with time_machine.travel(datetime(2026, 11, 24, 7, 59, 59, tzinfo=NY), tick=False):
        dispatch.sweep()  # not yet due: the sweep leaves it
        dispatch.dispatch_batch([str(message.pk)])
        message.refresh_from_db()
        assert message.status == Status.QUEUED
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, tzinfo=NY), tick=False):
        assert dispatch.sweep()["lanes"] == [dispatch.BULK]
        dispatch.dispatch_batch([str(message.pk)])
    message.refresh_from_db()
    assert message.status == Status.SENT and len(memory_provider.outbox) == 1


@pytest.mark.parametrize("source", ["one_to_one", "test", "resend", "missed_call_text_back"])
def test_r13_exempt_sources_go_at_night(world, new_yorker, source):
    with time_machine.travel(ny(23, 30), tick=False):
        assert send(world, new_yorker, source).status == Status.SENT


def test_r13_past_validity_hours_it_fails_with_the_reason(world, new_yorker):
    with time_machine.travel(ny(21, 30), tick=False):  # 10.5 hours before 08:00
        message = send(world, new_yorker, "bulk")
    assert message.status == Status.FAILED
    assert message.failure_reason.startswith("Not sent: outside the recipient's sending hours")


def test_r13_the_contacts_own_zone_decides(world, new_yorker):
    Contact.objects.filter(pk=new_yorker.pk).update(time_zone="America/Los_Angeles")
    new_yorker.refresh_from_db()
    with time_machine.travel(ny(9, 0), tick=False):  # 06:00 in Los Angeles
        message = send(world, new_yorker, "bulk")
    assert (message.status, message.send_after) == (Status.QUEUED, ny(11, 0))


def test_r13_florida_window_ends_at_20(world, floridian):
    with time_machine.travel(ny(19, 59, 59), tick=False):
        assert send(world, floridian, "bulk").status == Status.SENT
    with time_machine.travel(ny(20, 0), tick=False):  # 12 hours before 08:00: past VALIDITY_HOURS
        late = send(world, floridian, "bulk", body="Later")
    assert late.status == Status.FAILED and "(08:00–20:00 America/New_York)" in late.failure_reason


def test_r13_the_fourth_message_of_a_day_to_a_florida_number_is_not_sent(world, floridian, memory_provider):
    for hour in (9, 10, 11):
        with time_machine.travel(ny(hour, 0), tick=False):
            assert send(world, floridian, "campaign", body=f"Offer {hour}").status == Status.SENT
    with time_machine.travel(ny(12, 0), tick=False):  # free again at 09:00 tomorrow: 21 hours away
        fourth = send(world, floridian, "bulk", body="One more")
    assert fourth.status == Status.FAILED and len(memory_provider.outbox) == 3
    assert fourth.failure_reason.startswith("Not sent: 3 such messages already went to this Florida number")
    with time_machine.travel(ny(12, 0), tick=False):  # one-to-one is not capped
        assert send(world, floridian, "one_to_one", body="Your appointment").status == Status.SENT


def test_r13_a_held_message_keeps_its_first_deadline(world, new_yorker):
    with time_machine.travel(ny(22, 30), tick=False):
        message = send(world, new_yorker, "bulk")
    # Due at 22:30, it may wait until 08:30 (VALIDITY_HOURS): kept when it goes back to the queue.
    assert message.valid_until == datetime(2026, 11, 24, 8, 30, tzinfo=NY)


def test_r13_the_bulk_report_says_what_waits_and_stops_polling(world, new_yorker, login):
    from django.urls import reverse

    from messaging.models import BulkSend

    bulk = BulkSend.objects.create(sub_account=world.a1, body="Hello", audience="All contacts", total=1)
    with time_machine.travel(ny(22, 30), tick=False):
        message = services.messages_send(
            sub_account=world.a1, contacts=[new_yorker], body="Hello", source="bulk", bulk_send=bulk
        )[0]
        dispatch.dispatch_batch([str(message.pk)])
        page = login(world.a1_owner).get(reverse("bulk_detail", args=[world.a1.pk, bulk.pk])).content.decode()
    assert "1 message waiting for the recipients' sending hours" in page
    assert 'hx-trigger="every 2s"' not in page  # nothing to watch until 08:00


def test_r13_the_bulk_preview_counts_who_waits_and_who_would_fail(world, login):
    from django.urls import reverse

    world.a1_contact.delete()
    world.ramp_at_top(world.a1)
    for phone, zone in [
        ("+12125550191", ""),
        ("+12125550192", ""),
        ("+14155550193", ""),
        ("+12125550194", "Asia/Tokyo"),
    ]:
        Contact.objects.create(sub_account=world.a1, phone=phone, consent="granted", time_zone=zone)
    form = {"body": "Hi", "audience": "all", "sender": "+16465550101", "when": "now"}
    # 22:30 in New York (two contacts: 10 h to wait, still valid), 19:30 in Los Angeles (open),
    # 12:30 the next day in Tokyo (open).
    with time_machine.travel(ny(22, 30), tick=False):
        response = login(world.a1_owner).post(reverse("bulk_preview", args=[world.a1.pk]), form)
    p = response.context["preview"]
    assert (p.total, p.quiet_wait, p.quiet_fail, p.will_send) == (4, 2, 0, 4)
    assert "outside their sending hours, sent when the window opens" in response.content.decode()
    with time_machine.travel(ny(21, 30), tick=False):  # New York's window is 10.5 h away: they would fail
        p = login(world.a1_owner).post(reverse("bulk_preview", args=[world.a1.pk]), form).context["preview"]
    assert (p.quiet_wait, p.quiet_fail, p.will_send) == (0, 2, 2)


def test_r7_r13_a_message_that_waited_counts_in_the_window_it_is_sent_in(world, new_yorker):
    from compliance.models import RampState

    RampState.objects.filter(sub_account=world.a1).update(level=1, limit_extension=None)
    with time_machine.travel(ny(22, 30), tick=False):
        message = send(world, new_yorker, "bulk")
        state = RampState.objects.get(sub_account=world.a1)
        assert (message.status, message.ramp_window, state.window_count) == (Status.QUEUED, None, 0)
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, tzinfo=NY), tick=False):
        dispatch.dispatch_batch([str(message.pk)])
        message.refresh_from_db()
        state = RampState.objects.get(sub_account=world.a1)
        assert message.status == Status.SENT and message.ramp_window == state.window_start
        assert (state.window_start, state.window_count) == (datetime(2026, 11, 24, 8, 0, tzinfo=NY), 1)


def test_r7_r13_a_full_limit_held_overnight_goes_in_the_morning(world, settings):
    """100 bulk messages at level 1 at 22:30 New York time: they wait, and the restriction their
    reservation set is not earned until they are sent; at 08:00 all 100 go."""
    from compliance.models import RampState

    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1212555{i:04d}", consent="granted") for i in range(2000, 2100)
    )
    with time_machine.travel(ny(22, 30), tick=False):
        messages = services.messages_send(sub_account=world.a1, contacts=contacts, body="Promo", source="bulk")
        dispatch.dispatch_batch([str(m.pk) for m in messages])
        state = RampState.objects.get(sub_account=world.a1)
        assert (state.window_count, state.restricted_until) == (0, None)
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=NY)
    with time_machine.travel(morning, tick=False):
        dispatch.dispatch_batch([str(m.pk) for m in messages])
    assert Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENT).count() == 100
    state = RampState.objects.get(sub_account=world.a1)
    assert (state.window_count, state.restricted_until) == (100, morning + timedelta(hours=24))
