"""Recovery from a dead worker (issue: rows of a killed worker waited 20 minutes, and delayed jobs
sat for minutes until a new worker took the scheduler lock): a claim has a heartbeat, the sweep
takes back rows whose heartbeat stopped after SMS_CLAIM_STALE_SECONDS, and workers retry the
scheduler lock every 30 s."""

from datetime import timedelta

import django_rq
import pytest
import time_machine
from django.utils import timezone
from rq.scheduler import RQScheduler

from messaging import dispatch, services
from messaging.models import Contact, Message, Source, Status
from messaging.worker import MAINTENANCE_SECONDS, Worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(world):
    world.ramp_at_top(world.a1)
    contacts = [
        Contact.objects.create(sub_account=world.a1, phone=f"+1212555070{i}", consent="granted") for i in range(4)
    ]
    return services.messages_send(sub_account=world.a1, contacts=contacts, body="Hello", source=Source.BULK)


def test_a_dead_claim_is_taken_back_after_the_stale_window_not_before(world, queued, settings, memory_provider):
    ids = [m.pk for m in queued]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _, claimed = dispatch.claim(ids, timezone.now())  # …and the worker is killed here
    stale = timedelta(seconds=settings.SMS_CLAIM_STALE_SECONDS)
    with time_machine.travel(start + stale - timedelta(seconds=1), tick=False):
        assert dispatch.sweep()["requeued"] == 0
    with time_machine.travel(start + stale + timedelta(seconds=1), tick=False):
        assert dispatch.sweep()["requeued"] == 4
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.QUEUED}
    assert memory_provider.outbox == []  # never handed off: provably unsent, sent once later
    assert dispatch.dispatch_due(dispatch.BULK)["sent_to_provider"] == 4


def test_each_wave_is_the_claims_heartbeat(world, queued, settings):
    """A long batch stays alive: handing off one wave refreshes `claimed_at` of the rest."""
    ids = [m.pk for m in queued]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _, claimed = dispatch.claim(ids, timezone.now())
    later = start + timedelta(seconds=settings.SMS_CLAIM_STALE_SECONDS - 10)
    with time_machine.travel(later, tick=False):
        dispatch.hand_off(claimed[:1], timezone.now())
    assert set(Message.objects.filter(pk__in=ids).values_list("claimed_at", flat=True)) == {later}
    with time_machine.travel(start + timedelta(seconds=settings.SMS_CLAIM_STALE_SECONDS + 5), tick=False):
        assert dispatch.sweep()["requeued"] == 0  # alive: its heartbeat is 15 s old


def test_a_fresh_heartbeat_is_not_rewritten_at_every_wave(world, queued, settings):
    """The heartbeat is refreshed only when it is older than a quarter of the stale window: the
    rest of a batch is not rewritten at every wave (most of dispatch's row writes, issue 13)."""
    ids = [m.pk for m in queued]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _, claimed = dispatch.claim(ids, timezone.now())
    soon = start + timedelta(seconds=settings.SMS_CLAIM_STALE_SECONDS / 4 - 1)
    with time_machine.travel(soon, tick=False):
        assert dispatch.hand_off(claimed[:1], timezone.now()) == claimed[:1]
    beats = dict(Message.objects.filter(pk__in=ids).values_list("pk", "claimed_at"))
    assert beats.pop(claimed[0].pk) == soon  # the handed one
    assert set(beats.values()) == {start}  # the others: still fresh, left alone


def test_handed_off_rows_of_a_dead_claim_become_unknown_never_resent(world, queued, settings, memory_provider):
    ids = [m.pk for m in queued]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _, claimed = dispatch.claim(ids, timezone.now())
        dispatch.hand_off(claimed[:2], timezone.now())  # two were on their way when it died
    with time_machine.travel(start + timedelta(seconds=settings.SMS_CLAIM_STALE_SECONDS + 1), tick=False):
        dispatch.sweep()
    statuses = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert sorted(statuses.values()) == [Status.QUEUED, Status.QUEUED, Status.UNKNOWN, Status.UNKNOWN]
    assert memory_provider.outbox == []


def test_a_worker_retries_the_scheduler_lock_of_a_dead_worker_within_its_maintenance_interval(world):
    connection = django_rq.get_connection("default")
    queues = [django_rq.get_queue("default")]
    worker = Worker(queues, connection=connection)
    assert worker.maintenance_interval == MAINTENANCE_SECONDS
    worker.scheduler = RQScheduler(queues, connection=connection)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        worker.last_cleaned_at = timezone.now()
    # The lock's owner died; its key expired (rq gives it interval + 60 s): nobody holds it now.
    connection.delete(RQScheduler.get_locking_key("default"))
    with time_machine.travel(start + timedelta(seconds=MAINTENANCE_SECONDS - 1), tick=False):
        assert not worker.should_run_maintenance_tasks
    with time_machine.travel(start + timedelta(seconds=MAINTENANCE_SECONDS + 1), tick=False):
        assert worker.should_run_maintenance_tasks
        worker.scheduler.acquire_locks()
    assert worker.scheduler.acquired_locks == {"default"}
