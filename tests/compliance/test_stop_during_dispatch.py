"""R3 under concurrency: a STOP arriving while a dispatch batch is running never lets a message
to that contact out after the STOP was stored. Real threads, real transactions: PostgreSQL."""

import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from compliance.models import RampState
from compliance.policy import get_policy
from messaging import dispatch, inbound, services
from messaging.models import Contact, Message, MessageEvent, Status
from messaging.providers import memory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks (CI runs it)"),
]


def test_stop_during_a_running_batch(world, settings):
    settings.SMS_MAX_CONCURRENCY = 4
    memory.latency["seconds"] = 0.02
    contact = Contact.objects.create(sub_account=world.a1, phone="+12125550500", consent="granted")
    messages = [
        services.messages_send(sub_account=world.a1, contacts=[contact], body=f"Offer {i}", source="bulk")[0]
        for i in range(60)
    ]
    ids = [str(m.pk) for m in messages]
    stop_stored_at = {}

    def run_dispatch():
        try:
            dispatch.dispatch_batch(ids)
        finally:
            connections.close_all()

    def send_stop():
        try:
            while len(memory.outbox) < 10:  # let the batch get going
                time.sleep(0.005)
            inbound.inbound_receive(sid="SMstop", from_=contact.phone, to="+16465550101", body="STOP")
            stop_stored_at["t"] = timezone.now()  # inbound_receive has committed
            stop_stored_at["outbox"] = len(memory.outbox)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_dispatch), threading.Thread(target=send_stop)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert "t" in stop_stored_at, "the STOP thread did not finish"

    rows = {str(m.pk): m for m in Message.objects.filter(pk__in=ids)}
    sent = [rows[s.message_id] for s in memory.outbox if s.message_id in rows]
    # The opt-out confirmation (R3) is person-facing: the bulk run sent it between its waves.
    confirmation = get_policy().OPT_OUT_CONFIRMATION.format(business_name=world.a1.business_name)
    assert [s.body for s in memory.outbox if s.message_id not in rows] == [confirmation]
    # Everything that went out was handed to the provider before the STOP was stored…
    assert all(m.handed_at < stop_stored_at["t"] for m in sent)
    # …the STOP really landed mid-batch…
    assert 10 <= len(sent) < 60
    # …and every other message failed as opted out, none left queued or sending.
    for pk, m in rows.items():
        if m not in sent:
            assert (m.status, m.failure_reason) == (Status.FAILED, "Recipient opted out."), pk
    # At most one wave was already on its way when the STOP committed.
    assert len(sent) - stop_stored_at["outbox"] <= settings.SMS_MAX_CONCURRENCY
    # The audit trail agrees: no message that went out has an opt-out "failed" event, and the
    # ramp counts exactly what reached the carrier (nothing given back for a sent message).
    sent_ids = [m.pk for m in sent]
    assert not MessageEvent.objects.filter(message_id__in=sent_ids, source="opt-out").exists()
    assert RampState.objects.get(sub_account=world.a1).window_count == len(sent)
