"""R7: the limit is never exceeded, also with many concurrent senders (PostgreSQL row lock)."""

import threading

import pytest
from django.db import connection, connections

from compliance.models import RampState
from messaging import services
from messaging.models import Contact, Message, Status

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks (CI runs it)"),
]


def test_no_overshoot_with_eight_concurrent_senders(world):
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1305555{i:04d}", consent="granted") for i in range(160)
    )
    barrier = threading.Barrier(8)
    errors = []

    def sender(chunk):
        try:
            barrier.wait()
            for contact in chunk:  # 20 one-to-one sends each, 160 in all, against a limit of 100
                services.message_send_one(sub_account=world.a1, contact=contact, body="Hi", source="one_to_one")
                # Back to the pool after each send, as a request thread does: eight threads share
                # the process's pool (DB_POOL_MAX_SIZE), and one holding its connection for all 20
                # sends made the others time out waiting on a busy machine.
                connections.close_all()
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender, args=(contacts[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert Message.objects.filter(status=Status.QUEUED).count() == 100
    assert (
        Message.objects.filter(status=Status.FAILED, failure_reason="You have exceeded your SMS sending limit.").count()
        == 60
    )
    state = RampState.objects.get(sub_account=world.a1)
    assert state.window_count == 100 and state.restricted_until is not None
