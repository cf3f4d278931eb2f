"""Drill: a worker is killed -9 (with its work-horse) in the middle of a bulk send, while a wave
is in flight at the provider. After a new worker starts and the sweep runs, the provider has
every message exactly once: what was claimed but never handed off is queued again and sent; what
was in flight when it died is reconciled with the provider's list (`find_sent`), never sent
twice; nothing is left queued or sending."""

import pytest
from django.db.models import Count, Q

from messaging import bulk
from messaging.models import Contact, Message, MessageEvent, Status
from tests.drills import harness

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True)]

MESSAGES, BATCH, WAVE = 300, 200, 50
FROM = "+16465550101"  # a1's number in the named world


def phone(i: int) -> str:
    return f"+1212{2000000 + i:07d}"


def wave_in_flight(messages, stub):
    """A wave handed off, every message of it at the provider and none of their answers recorded
    yet — and more of the claimed batch still waiting for their wave. The provider is asked
    first, the database last: the kill follows that read within a millisecond, and a wave's
    answers take the stub's 20 ms to come."""
    received = len(stub.received())
    counts = messages.aggregate(
        sent=Count("pk", filter=Q(status=Status.SENT)),
        handed=Count("pk", filter=Q(status=Status.SENDING, handed_at__isnull=False)),
        waiting=Count("pk", filter=Q(status=Status.SENDING, handed_at__isnull=True)),
    )
    sent, handed = counts["sent"], counts["handed"]
    return handed > 0 and counts["waiting"] > 0 and received >= sent + handed


def test_a_worker_killed_mid_bulk_send_leaves_every_message_sent_exactly_once(
    world, processes, stub, app_env, drill_settings
):
    world.ramp_at_top(world.a1)
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=phone(i), consent="granted") for i in range(MESSAGES)
    )
    env = app_env(TWILIO_API_BASE_URL=stub.url, SMS_DISPATCH_BATCH=str(BATCH), SMS_MAX_CONCURRENCY=str(WAVE))
    first = harness.start_worker(processes, env, "drill-worker-1")

    send = bulk.bulk_send_start(
        sub_account=world.a1, user=world.a1_owner, body="Drill: the clinic opens at 9 tomorrow.",
        contact_ids=[c.pk for c in contacts], audience_label="drill", send_at=None, from_numbers=[FROM],
    )  # fmt: skip
    messages = Message.objects.filter(bulk_send=send)
    assert messages.count() == MESSAGES

    # The work-horse exists once a wave has been handed off; its pid is read now so that the
    # kill follows the moment below at once.
    harness.wait_until(messages.filter(handed_at__isnull=False).exists, timeout=30, every=0.002,
                       what="the first hand-off", logs=processes)  # fmt: skip
    worker_and_horse = harness.process_tree(first.popen.pid)
    harness.wait_until(lambda: wave_in_flight(messages, stub), timeout=30, every=0.001,
                       what="a wave in flight at the provider", logs=processes)  # fmt: skip
    first.crash(worker_and_horse)
    # Its last statement (a wave's outcome being committed, say) is done or rolled back once the
    # server has let go of its connections: only then is what it left behind known.
    harness.wait_until(lambda: harness.sessions_of(first.name) == 0, timeout=15,
                       what="the killed worker's sessions to end")  # fmt: skip

    in_flight = set(messages.filter(status=Status.SENDING, handed_at__isnull=False).values_list("pk", flat=True))
    never_handed = set(messages.filter(status=Status.SENDING, handed_at__isnull=True).values_list("pk", flat=True))
    assert in_flight, "the kill landed between waves: nothing was in flight"
    assert never_handed, "the kill landed after the batch's last wave"

    harness.start_worker(processes, env, "drill-worker-2")
    harness.sweep_until_settled(messages, stub, processes)

    counts = stub.count_by_to()
    sids = {m["to"]: m["sid"] for m in stub.received()}
    assert max(counts.values()) == 1, {to: n for to, n in counts.items() if n > 1}  # never sent twice
    assert set(counts) <= {phone(i) for i in range(MESSAGES)}
    outcome = dict(messages.values_list("status").annotate(n=Count("pk")))
    assert set(outcome) <= {Status.SENT, Status.UNKNOWN}, outcome  # none queued, sending or failed
    for pk, to, status, sid in messages.values_list("pk", "to_number", "status", "provider_sid"):
        if status == Status.SENT:
            assert sid == sids[to]  # the provider's own message, recorded once
        else:
            # Handed off, then killed before its request left: the provider never had it, so it
            # is not re-sent blindly; it stays unknown until reconciliation gives up (then failed,
            # "Use Resend"). Only possible for a message that was in flight.
            assert pk in in_flight and to not in counts
    assert sum(counts.values()) == outcome.get(Status.SENT, 0)

    # What the drill is about: the dead worker's rows went through both recovery paths.
    reconciled = MessageEvent.objects.filter(message__in=in_flight, source="reconcile", status=Status.SENT)
    requeued = MessageEvent.objects.filter(message__in=never_handed, source="sweep", status=Status.QUEUED)
    print(f"killed with {len(in_flight)} in flight and {len(never_handed)} claimed, not handed off; "
          f"{reconciled.count()} reconciled, {requeued.count()} requeued; outcome {outcome}")  # fmt: skip
    assert reconciled.exists(), "no message in flight at the kill was reconciled from the provider's list"
    assert requeued.count() == len(never_handed)
