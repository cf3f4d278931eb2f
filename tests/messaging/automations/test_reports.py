"""The counts the pages and the API show: per workflow and per step — reached, sent, delivered,
replied, opted out — from real sends, receipts and replies (only the provider edge is faked)."""

from datetime import timedelta

import pytest

from messaging import inbound
from messaging.automations import reports
from messaging.automations.enrolling import enroll
from messaging.models import Message
from tests.messaging.automations.conftest import NOON, send, wait
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db


def test_counts_per_workflow_and_per_step(client, world, people, make_workflow, clock, committed, settle):
    ava, ben, cy = people
    workflow = make_workflow(send("Hi {first_name}"), wait(minutes=60), send("Book now?"))
    with committed():
        enroll(workflow=workflow, contact_ids=[p.pk for p in people], trigger="test")
    settle()
    sent = {m.contact_id: m for m in Message.objects.filter(source="workflow")}
    post_signed(
        client, "/webhooks/twilio/status", {"MessageSid": sent[ava.pk].provider_sid, "MessageStatus": "delivered"}
    )
    clock.move_to(NOON + timedelta(minutes=5))
    with committed():
        inbound.inbound_receive(sid="SMr1", from_=ben.phone, to="+16465550101", body="What times do you have?")
        inbound.inbound_receive(sid="SMr2", from_=cy.phone, to="+16465550101", body="STOP")
    settle()

    totals = reports.workflow_totals([workflow])[workflow.pk]
    assert (totals["steps"], totals["enrolled"], totals["active"], totals["exited"]) == (3, 3, 2, 1)
    assert (totals["sent"], totals["delivered"], totals["replied"], totals["opted_out"]) == (
        3,
        1,
        1,
        1,
    )  # STOP: no reply
    steps = reports.step_counts([workflow.pk])[workflow.pk]
    assert dict(steps[0]) == {"reached": 3, "sent": 3, "delivered": 1, "replied": 1}
    assert dict(steps[1]) == {"reached": 3, "opted_out": 1}  # Cy opted out during the wait
    assert 2 not in steps  # nobody has reached step 3 yet
