"""R11 through the send path and the pages: content blocking recorded as a Violation; a body
sent from more than SNOWSHOE_NUMBERS numbers in 24 h is held (queued, never dispatched) until
support accepts the justification (released and sent) or rejects it (failed with the note)."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from compliance import rules, screening
from compliance.errors import ComplianceError
from compliance.models import RampState, SnowshoeHold, Violation
from messaging import dispatch, holds
from messaging import services as messaging
from messaging.models import BulkSend, Contact, Message, MessageEvent, PhoneNumber, Status
from messaging.transitions import messages_fail

pytestmark = pytest.mark.django_db

BODY = "Hi {first_name}! Spring special: 20% off whitening this week at Sunrise Dental."
N1, N2, N3, N4, N5 = (f"+1646555010{i}" for i in range(1, 6))  # N1 is the world's own number


@pytest.fixture
def a1(world):
    for number in (N2, N3, N4, N5):
        PhoneNumber.objects.create(sub_account=world.a1, number=number)
    world.ramp_at_top(world.a1)
    return world.a1


@pytest.fixture
def contacts(a1):
    return Contact.objects.bulk_create(
        Contact(sub_account=a1, phone=f"+1305555{i:04d}", first_name=f"C{i}", consent="granted") for i in range(10)
    )


def send(a1, contacts, numbers, body=BODY, **kwargs):
    return messaging.messages_send(
        sub_account=a1, contacts=contacts, body=body, source="bulk", from_numbers=numbers, **kwargs
    )


def numbers_for(a1, body=BODY, new=(N4,), now=None):
    return screening.snowshoe_numbers(sub_account=a1, body=body, from_numbers=list(new), now=now or timezone.now())


# --- content ----------------------------------------------------------------------------------


def test_content_block_records_a_violation(world, a1):
    match = screening.content_block(sub_account=a1, body="Fr33 b33r & c.a.s.i.n.o night", user=world.a1_owner)
    assert (match.category, match.term, match.matched) == ("alcohol", "beer", "b33r")
    v = Violation.objects.get()
    assert (v.sub_account, v.kind, v.user) == (a1, "prohibited_content", world.a1_owner)
    assert v.action == "Bulk send blocked before sending"
    assert v.detail == {
        "category": "alcohol",
        "term": "beer",
        "matched": "b33r",
        "body": "Fr33 b33r & c.a.s.i.n.o night",
    }


def test_innocent_content_is_not_recorded(world, a1):
    assert screening.content_block(sub_account=a1, body="Scunthorpe: begun, Gunther, Cassino", user=None) is None
    assert not Violation.objects.exists()


# --- which numbers count ------------------------------------------------------------------------


def test_snowshoe_numbers_counts_near_identical_bodies_of_the_last_24_hours(world, a1, contacts):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        send(a1, contacts[:3], [N1, N2, N3])  # one message from each
        send(a1, contacts[3:4], [N5], body="Completely different: your appointment is tomorrow at 10.")
    variant = BODY.replace("{first_name}", "{full_name}").replace("20%", "25%")
    with time_machine.travel(start + timedelta(hours=24), tick=False):
        assert numbers_for(a1, body=variant) == [N1, N2, N3, N4]
        assert numbers_for(a1, new=[]) == [N1, N2, N3]
        assert numbers_for(a1, body="Something else entirely, nothing like it.") == [N4]
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=False):
        assert numbers_for(a1) == [N4]


def test_failed_messages_keyword_replies_and_other_tenants_do_not_count(world, a1, contacts):
    sent = send(a1, contacts[:3], [N1, N2, N3])
    Message.objects.filter(pk=sent[2].pk).update(status=Status.FAILED, failure_reason="x")
    world.message_of(contacts[3], status="sent", body=BODY, from_number=N4, source="keyword_reply")
    world.message_of(world.b1_contact, status="sent", body=BODY, from_number="+14155550121")
    assert numbers_for(a1, new=[]) == [N1, N2]


# --- hold, justification, decision ---------------------------------------------------------------


@pytest.fixture
def held(world, a1, contacts, django_capture_on_commit_callbacks, run_jobs, memory_provider):
    """Three numbers already used for BODY; a new bulk send from two more is held."""
    send(a1, contacts[:3], [N1, N2, N3])
    now = timezone.now()
    assert screening.snowshoe_hold_if_needed(sub_account=a1, body=BODY, from_numbers=[N1], now=now, user=None) is None
    hold = screening.snowshoe_hold_if_needed(
        sub_account=a1, body=BODY, from_numbers=[N4, N5], now=now, user=world.a1_owner
    )
    assert hold is not None
    bulk = BulkSend.objects.create(sub_account=a1, body=BODY, audience="All", status="held", total=4)
    with django_capture_on_commit_callbacks(execute=True):
        messages = send(a1, contacts[3:7], [N4, N5], hold=hold, bulk_send=bulk)
    run_jobs()  # dispatches what is due in the lane: the three earlier messages, not the held ones
    assert len(memory_provider.outbox) == 3
    memory_provider.outbox.clear()
    return hold, messages, bulk


def test_a_held_send_is_queued_and_not_dispatched(world, a1, held, memory_provider):
    hold, messages, _ = held
    assert (hold.status, hold.numbers, hold.body) == ("awaiting", [N1, N2, N3, N4, N5], BODY)
    assert memory_provider.outbox == []
    assert set(Message.objects.filter(hold=hold).values_list("status", flat=True)) == {Status.QUEUED}
    assert dispatch.dispatch_batch([str(m.pk) for m in messages]) == {"claimed": 0, "sent_to_provider": 0}
    v = Violation.objects.get(kind="snowshoe")
    assert v.detail == {"numbers": [N1, N2, N3, N4, N5], "body": BODY}
    assert (v.action, v.user) == ("Held until support accepts a business justification", world.a1_owner)


def test_justification_then_support_accepts_and_the_messages_go_out(
    world, held, django_capture_on_commit_callbacks, run_jobs, memory_provider
):
    hold, messages, bulk = held
    with pytest.raises(ComplianceError):
        screening.snowshoe_justify(hold=hold, text="   ", user=world.a1_owner)
    with pytest.raises(ComplianceError):  # nothing to decide yet
        holds.snowshoe_decide(hold=hold, accept=True, note="", user=world.support)
    screening.snowshoe_justify(hold=hold, text="One number per clinic location.", user=world.a1_owner)
    assert (hold.status, hold.justification, hold.submitted_by) == (
        "pending",
        "One number per clinic location.",
        world.a1_owner,
    )
    assert hold.submitted_at is not None
    with pytest.raises(ComplianceError):  # once only
        screening.snowshoe_justify(hold=hold, text="again", user=world.a1_owner)

    with django_capture_on_commit_callbacks(execute=True):
        released = holds.snowshoe_decide(hold=hold, accept=True, note="", user=world.support)
    run_jobs()
    assert released == 4
    assert (hold.status, hold.decided_by) == ("accepted", world.support) and hold.decided_at is not None
    assert sorted(sms.from_ for sms in memory_provider.outbox) == [N4, N4, N5, N5]
    assert set(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", "hold")) == {
        (Status.SENT, None)
    }
    assert MessageEvent.objects.filter(source="support", detail__startswith="Released").count() == 4
    bulk.refresh_from_db()
    assert bulk.status == "sending"
    with pytest.raises(ComplianceError):  # decided once only
        holds.snowshoe_decide(hold=hold, accept=False, note="changed my mind", user=world.support)


def test_support_rejects_and_the_messages_fail_with_the_note(world, a1, held, memory_provider):
    hold, messages, bulk = held
    screening.snowshoe_justify(hold=hold, text="Reasons.", user=world.a1_owner)
    with pytest.raises(ComplianceError):  # a note is required to reject
        holds.snowshoe_decide(hold=hold, accept=False, note=" ", user=world.support)
    before = RampState.objects.get(sub_account=a1).window_count
    assert holds.snowshoe_decide(hold=hold, accept=False, note="Use one number.", user=world.support) == 4
    reason = "Held for snowshoeing and rejected by support: Use one number."
    assert set(Message.objects.filter(hold=hold).values_list("status", "failure_reason")) == {(Status.FAILED, reason)}
    assert MessageEvent.objects.filter(source="support", status=Status.FAILED, detail=reason).count() == 4
    assert RampState.objects.get(sub_account=a1).window_count == before - 4  # capacity given back (R7)
    assert (hold.status, hold.decision_note) == ("rejected", "Use one number.")
    bulk.refresh_from_db()
    assert bulk.status == "blocked"
    assert memory_provider.outbox == []


def test_an_opt_out_while_held_is_not_released_later(world, held, django_capture_on_commit_callbacks, run_jobs):
    hold, messages, _ = held
    messages_fail(
        Message.objects.filter(contact=messages[0].contact).unhanded(), reason=rules.OPTED_OUT, source="opt-out"
    )
    screening.snowshoe_justify(hold=hold, text="Reasons.", user=world.a1_owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert holds.snowshoe_decide(hold=hold, accept=True, note="", user=world.support) == 3
    run_jobs()
    messages[0].refresh_from_db()
    assert messages[0].status == Status.FAILED


# --- pages ------------------------------------------------------------------------------------


def holds_url(sub_account):
    return reverse("snowshoe_holds", args=[sub_account.pk])


def justify_url(hold):
    return reverse("snowshoe_justify", args=[hold.sub_account_id, hold.pk])


@pytest.fixture
def hold(world):
    return SnowshoeHold.objects.create(sub_account=world.a1, body="Spring special", numbers=[N1, N2, N3, N4])


def test_holds_page_form_only_for_owners_and_agency_admins(world, login, hold):
    for user in (world.a1_owner, world.a_admin):
        html = login(user).get(holds_url(world.a1)).content.decode()
        assert "Spring special" in html and justify_url(hold) in html
    for user in (world.a1_user, world.a_staff):
        html = login(user).get(holds_url(world.a1)).content.decode()
        assert "Spring special" in html and justify_url(hold) not in html
        assert "Only the sub-account's owners and agency admins" in html
    assert login(world.b_admin).get(holds_url(world.a1)).status_code == 404


def test_justify_by_post(world, login, hold):
    assert login(world.a1_user).post(justify_url(hold), {"justification": "x"}).status_code == 403
    assert login(world.b_admin).post(justify_url(hold), {"justification": "x"}).status_code == 404
    response = login(world.a1_owner).post(justify_url(hold), {"justification": ""})
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.status == "awaiting"
    login(world.a1_owner).post(justify_url(hold), {"justification": "One number per location."})
    hold.refresh_from_db()
    assert (hold.status, hold.justification) == ("pending", "One number per location.")
    assert "One number per location." in login(world.a1_user).get(holds_url(world.a1)).content.decode()


def test_a_hold_of_another_subaccount_is_404_under_this_one(world, login):
    other = SnowshoeHold.objects.create(sub_account=world.a2, body="x")
    url = reverse("snowshoe_justify", args=[world.a1.pk, other.pk])
    assert login(world.a_admin).post(url, {"justification": "x"}).status_code == 404


def test_support_queue_is_support_only(world, login, hold):
    screening.snowshoe_justify(hold=hold, text="One number per location.", user=world.a1_owner)
    decide = reverse("support_snowshoe_decide", args=[hold.pk])
    for user in (world.a_admin, world.a1_owner, world.b_admin):
        assert login(user).get(reverse("support_snowshoe")).status_code == 404
        assert login(user).post(decide, {"decision": "accept"}).status_code == 404
    hold.refresh_from_db()
    assert hold.status == "pending"
    html = login(world.support).get(reverse("support_snowshoe")).content.decode()
    assert "Spring special" in html and "One number per location." in html and decide in html


def test_support_decides_from_the_queue(world, login, hold):
    screening.snowshoe_justify(hold=hold, text="Reasons.", user=world.a1_owner)
    client = login(world.support)
    decide = reverse("support_snowshoe_decide", args=[hold.pk])
    client.post(decide, {"decision": "reject", "note": ""})  # a note is required to reject
    hold.refresh_from_db()
    assert hold.status == "pending"
    assert client.post(decide, {"decision": "reject", "note": "Use one number."}).status_code == 302
    hold.refresh_from_db()
    assert (hold.status, hold.decision_note, hold.decided_by) == ("rejected", "Use one number.", world.support)
    assert "Use one number." in login(world.a1_user).get(holds_url(world.a1)).content.decode()
