"""Fixtures for R8 tests that drive real sends, receipts and STOP replies: a fixed clock at noon
UTC, 260 consented contacts of Sunrise Dental at the top of the ramp, and helpers that send and
post signed Twilio webhooks (running the RQ jobs they enqueue)."""

from datetime import UTC, datetime

import pytest
import time_machine

from messaging import services
from messaging.models import Contact, Message, Status
from tests.messaging.helpers import post_signed

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def contacts(world, clock):
    world.ramp_at_top(world.a1)
    return Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1718555{i:04d}", consent="granted") for i in range(260)
    )


@pytest.fixture
def send(world, run_jobs, django_capture_on_commit_callbacks):
    """Send `n` bulk messages to the first n contacts and dispatch them: they are `sent`."""

    def _send(contacts, n, source="bulk"):
        with django_capture_on_commit_callbacks(execute=True):
            messages = services.messages_send(sub_account=world.a1, contacts=contacts[:n], body="Promo", source=source)
        run_jobs()
        sent = list(Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENT))
        assert len(sent) == n
        return sent

    return _send


@pytest.fixture
def receipt(client, django_capture_on_commit_callbacks, run_jobs):
    def _receipt(message, status, code="", jobs=True):
        params = {"MessageSid": message.provider_sid, "MessageStatus": status, "ErrorCode": code}
        with django_capture_on_commit_callbacks(execute=True):
            assert post_signed(client, "/webhooks/twilio/status", params).status_code == 200
        if jobs:
            run_jobs()  # the email jobs enqueued on commit

    _receipt.run_jobs = run_jobs
    return _receipt


@pytest.fixture
def stop(client, django_capture_on_commit_callbacks, run_jobs):
    def _stop(contact, body="STOP"):
        params = {"MessageSid": f"SMin{contact.pk.hex}", "From": contact.phone, "To": "+16465550101", "Body": body}
        with django_capture_on_commit_callbacks(execute=True):
            assert post_signed(client, "/webhooks/twilio/inbound", params).status_code == 200
        run_jobs()

    return _stop
