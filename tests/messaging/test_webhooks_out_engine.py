"""Outgoing webhooks, the delivery engine: the attempt log, disabling after repeated failure (with
one email), a job run twice delivering once, stable event ids, the `webhooks` queue, and the
events emitted by workflows finishing enrollments and suspensions running out."""

import threading
from datetime import timedelta

import django_rq
import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.utils import timezone

from compliance.models import Suspension, Violation
from messaging import webhooks_out
from messaging.automations import runner
from messaging.automations.enrolling import enroll, enrollments_end
from messaging.automations.models import Enrollment, Workflow
from messaging.models import Contact, DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from messaging.webhooks_out import notices
from messaging.webhooks_out.receivers import suspensions_ended_sweep
from tests.messaging.test_webhooks_out import endpoint


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def attempt_until_final(delivery, receiver, statuses, clock):
    """Attempt the delivery once per status in `statuses` (what the receiver answers), moving the
    clock to each retry's time."""
    for status in statuses:
        receiver.status = status
        delivery = webhooks_out.deliver(delivery.pk)
        if delivery.next_attempt_at:
            clock.move_to(delivery.next_attempt_at)
    return delivery


# --- The attempt log ----------------------------------------------------------------------


def test_every_attempt_is_logged_and_the_log_reads_newest_delivery_first(world, receiver):
    ep = endpoint(world.a1, receiver.url)
    other = endpoint(world.a1, receiver.url, events=["message.inbound"])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        (first,) = webhooks_out.emit(world.a1.pk, "message.status", {"n": 1})
        attempt_until_final(first, receiver, [500, 503, 200], clock)
        clock.shift(1)
        (second,) = webhooks_out.emit(world.a1.pk, "message.status", {"n": 2})
        webhooks_out.emit(world.a1.pk, "message.inbound", {"n": 3})
    log = list(WebhookDelivery.objects.for_endpoint(ep))
    assert [d.pk for d in log] == [second.pk, first.pk]  # newest first, other endpoints' not here
    assert [(a.status_code, a.error) for a in log[1].log.all()] == [(500, ""), (503, ""), (200, "")]
    times = [a.attempted_at for a in log[1].log.all()]
    assert times == sorted(times) and times[1] - times[0] == timedelta(seconds=30)
    assert all(a.duration_ms >= 0 for a in log[1].log.all()) and list(log[0].log.all()) == []
    assert log[1].state == DeliveryState.DELIVERED and log[1].attempts == 3
    assert WebhookDelivery.objects.for_endpoint(other).count() == 1


def test_an_attempt_with_no_answer_logs_the_error(world, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    from tests.conftest import closed_port

    endpoint(world.a1, f"http://127.0.0.1:{closed_port()}/hook")
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    webhooks_out.deliver(delivery.pk)
    (attempt,) = WebhookAttempt.objects.all()
    assert attempt.status_code is None and "Connection refused" in attempt.error


# --- Disabling after repeated failure, with one email ------------------------------------


def test_disabled_after_n_failed_attempts_in_a_row_with_one_email(world, receiver, settings, committed, run_jobs):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_FAILING_MINUTES = 0  # the span rule: the next test
    receiver.status = 500
    ep = endpoint(world.a1, receiver.url)
    with committed():
        deliveries = [webhooks_out.emit(world.a1.pk, "message.status", {"n": n})[0] for n in range(4)]
    # Two failures, then a success: the count starts again.
    webhooks_out.deliver(deliveries[0].pk)
    webhooks_out.deliver(deliveries[1].pk)
    receiver.status = 200
    webhooks_out.deliver(deliveries[2].pk)
    ep.refresh_from_db()
    assert ep.enabled and ep.failure_count == 0
    receiver.status = 500
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        with committed():
            webhooks_out.deliver(deliveries[0].pk)
            webhooks_out.deliver(deliveries[1].pk)
            assert WebhookEndpoint.objects.get(pk=ep.pk).enabled
            webhooks_out.deliver(deliveries[3].pk)  # the third failure in a row
        ep.refresh_from_db()
        assert not ep.enabled and ep.failure_count == 3 and ep.disabled_at == timezone.now()
    assert ep.disabled_reason == "3 attempts in a row failed over 0 minutes (last: HTTP 500)."
    assert len(receiver.requests) == 6
    run_jobs()  # the email job (default queue) and the deliveries' jobs: nothing more is POSTed
    assert len(receiver.requests) == 6
    (email,) = mail.outbox
    assert email.to == ["admin@acme.test", "owner@sunrise.test"]
    assert email.subject == f"Webhook turned off for Sunrise Dental: {receiver.url}"
    assert "3 attempts in a row failed over 0 minutes (last: HTTP 500)." in email.body
    assert "Settings → Webhooks" in email.body
    assert notices.disabled_email_send(ep.pk) is False  # a second run of the job sends nothing
    assert len(mail.outbox) == 1
    # Still pending, waiting for the endpoint to be turned on again; then the count starts again.
    assert WebhookDelivery.objects.filter(state=DeliveryState.PENDING).count() == 3
    ep.enable()
    ep.refresh_from_db()
    assert ep.enabled and ep.failure_count == 0 and ep.disabled_reason == "" and ep.disabled_notified_at is None


def test_a_burst_of_failures_within_the_hour_does_not_turn_it_off(world, receiver, settings):
    """A receiver down for a minute while events pour in: many failed attempts, all retried, and
    the endpoint stays on; failing on for WEBHOOK_DISABLE_AFTER_FAILING_MINUTES turns it off."""
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    receiver.status = 503
    ep = endpoint(world.a1, receiver.url)
    deliveries = [webhooks_out.emit(world.a1.pk, "message.status", {"n": n})[0] for n in range(5)]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for d in deliveries:
            webhooks_out.deliver(d.pk)
    ep.refresh_from_db()
    assert ep.enabled and ep.failure_count == 5
    assert WebhookDelivery.objects.filter(state=DeliveryState.PENDING).count() == 5  # all retried
    later = start + timedelta(minutes=settings.WEBHOOK_DISABLE_AFTER_FAILING_MINUTES, seconds=1)
    with time_machine.travel(later, tick=False):
        webhooks_out.deliver(deliveries[0].pk)  # its retry is due long since
    ep.refresh_from_db()
    assert not ep.enabled and ep.disabled_reason == "6 attempts in a row failed over 60 minutes (last: HTTP 503)."


def test_gone_disables_with_its_reason_and_one_email(world, receiver, committed, run_jobs):
    receiver.status = 410
    ep = endpoint(world.a1, receiver.url)
    (first, second) = [webhooks_out.emit(world.a1.pk, "message.status", {})[0] for _ in range(2)]
    with committed():
        assert webhooks_out.deliver(first.pk).state == DeliveryState.FAILED
        assert webhooks_out.deliver(second.pk).attempts == 0  # disabled: not attempted
    ep.refresh_from_db()
    assert not ep.enabled and ep.disabled_reason.startswith("The endpoint answered 410 Gone")
    run_jobs()
    run_jobs()
    assert len(mail.outbox) == 1 and "410 Gone" in mail.outbox[0].body


def test_a_turn_off_email_whose_job_was_lost_is_sent_by_the_sweep_once(world, receiver):
    """Redis keeps no jobs across a restart: the turn-off is recorded, its email job is gone."""
    receiver.status = 410
    ep = endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    webhooks_out.deliver(delivery.pk)  # not committed: the on-commit email job never runs
    ep.refresh_from_db()
    assert not ep.enabled and mail.outbox == []
    with time_machine.travel(ep.disabled_at + timedelta(seconds=119), tick=False):
        webhooks_out.sweep()
        assert mail.outbox == []  # the job may still be on its way
    with time_machine.travel(ep.disabled_at + timedelta(minutes=2), tick=False):
        webhooks_out.sweep()
        webhooks_out.sweep()
    assert len(mail.outbox) == 1 and "410 Gone" in mail.outbox[0].body


def test_turned_on_again_from_settings_and_gone_again_emails_again(world, receiver, committed, run_jobs):
    from messaging.webhooks_out import manage

    receiver.status = 410
    ep = endpoint(world.a1, receiver.url)
    for _ in range(2):
        with committed():
            (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
            webhooks_out.deliver(delivery.pk)
        run_jobs()
        ep.refresh_from_db()
        assert not ep.enabled
        manage.endpoint_update(endpoint=ep, enabled=True)  # what Settings → Webhooks does
    assert len(mail.outbox) == 2


def test_giving_up_after_24_hours_disables_with_its_reason(world, receiver, committed, run_jobs):
    receiver.status = 502
    ep = endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    with time_machine.travel(timezone.now(), tick=False) as clock, committed():
        delivery = attempt_until_final(delivery, receiver, [502] * 12, clock)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 12
    ep.refresh_from_db()
    assert ep.disabled_reason == "A delivery kept failing for 24 hours (last: HTTP 502)."
    run_jobs()
    assert len(mail.outbox) == 1


# --- Safe to run twice; one event id per event ----------------------------------------------


def test_a_job_run_twice_delivers_once(world, receiver, committed, run_jobs):
    endpoint(world.a1, receiver.url)
    with committed():
        (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    webhooks_out.enqueue(delivery.pk)  # the sweep meets it before the worker does: no second job
    assert django_rq.get_queue("webhooks").count == 1
    run_jobs()
    webhooks_out.deliver(delivery.pk)  # a re-run of the job after it delivered
    webhooks_out.enqueue(delivery.pk)
    run_jobs()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1 and len(receiver.requests) == 1


def test_a_job_for_a_deleted_endpoint_does_nothing(world, receiver, committed, run_jobs):
    ep = endpoint(world.a1, receiver.url)
    with committed():
        webhooks_out.emit(world.a1.pk, "message.status", {})
    ep.delete()
    run_jobs()
    assert receiver.requests == [] and django_rq.get_queue("webhooks").failed_job_registry.count == 0


def test_an_attempt_in_progress_is_claimed_and_retaken_only_after_its_claim_runs_out(world, receiver):
    endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    now = timezone.now()
    # A worker claimed it (as deliver() does) and died before recording the answer.
    claim_end = now + timedelta(seconds=webhooks_out.CLAIM_SECONDS)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=claim_end, attempts=1, first_attempt_at=now)
    with time_machine.travel(claim_end - timedelta(seconds=1), tick=False):
        assert webhooks_out.deliver(delivery.pk).attempts == 1 and receiver.requests == []
        assert not WebhookDelivery.objects.due(timezone.now()).exists()
    with time_machine.travel(claim_end, tick=False):
        assert WebhookDelivery.objects.due(timezone.now()).exists()
        assert webhooks_out.deliver(delivery.pk).state == DeliveryState.DELIVERED
    assert len(receiver.requests) == 1


def test_retries_carry_the_same_event_id_in_header_and_body(world, receiver):
    endpoint(world.a1, receiver.url)
    endpoint(world.a1, receiver.url)
    first, second = webhooks_out.emit(world.a1.pk, "message.status", {"status": "delivered"})
    assert first.event_id == second.event_id  # one event, one id, whichever endpoint it goes to
    with time_machine.travel(timezone.now(), tick=False) as clock:
        attempt_until_final(first, receiver, [500, 500, 200], clock)
    import json

    seen = [(h["Textwise-Event-Id"], json.loads(body)) for h, body in receiver.requests]
    assert len(seen) == 3 and {event_id for event_id, _ in seen} == {str(first.event_id)}
    assert all(body["id"] == str(first.event_id) and body == seen[0][1] for _, body in seen)


def test_deliveries_go_to_the_webhooks_queue_only(world, receiver, committed):
    endpoint(world.a1, receiver.url)
    with committed():
        webhooks_out.emit_many(world.a1.pk, "message.status", [{"n": n} for n in range(3)])
    assert django_rq.get_queue("webhooks").count == 3
    assert [django_rq.get_queue(q).count for q in ("default", "dispatch", "dispatch_person")] == [0, 0, 0]


# --- workflow.enrollment.finished ---------------------------------------------------------


def test_enrollments_finishing_emit_their_event(world, receiver, committed, run_jobs):
    endpoint(world.a1, receiver.url, events=["workflow.enrollment.finished"])
    endpoint(world.b1, receiver.url, events=["workflow.enrollment.finished"])
    ben = Contact.objects.create(sub_account=world.a1, phone="+12125550111", first_name="Ben")
    done = Workflow.objects.create(sub_account=world.a1, name="Welcome", trigger="api", status="active")
    left = Workflow.objects.create(sub_account=world.a1, name="Nurture", trigger="api", status="active")
    with committed():
        enroll(workflow=done, contact_ids=[world.a1_contact.pk, ben.pk], trigger="test")
        enroll(workflow=left, contact_ids=[ben.pk], trigger="test")
    assert not WebhookDelivery.objects.exists()
    with committed():  # the Nurture one leaves first (unenrolled); the Welcome ones complete (no steps)
        enrollments_end(Enrollment.objects.filter(workflow=left), kind="unenrolled", reason="Unenrolled by Amy",
                        now=timezone.now())  # fmt: skip
        runner.enrollments_step_due()
    data = sorted((d.body["data"] for d in WebhookDelivery.objects.all()), key=lambda d: d["workflow_name"])
    assert [(d["workflow_name"], d["status"], d["exit_kind"]) for d in data] == [
        ("Nurture", "exited", "unenrolled"), ("Welcome", "completed", ""), ("Welcome", "completed", ""),
    ]  # fmt: skip
    assert data[0]["exit_reason"] == "Unenrolled by Amy" and data[0]["contact_id"] == str(ben.pk)
    assert {d["contact_id"] for d in data[1:]} == {str(world.a1_contact.pk), str(ben.pk)}
    assert all(d["finished_at"] and d["enrolled_at"] and d["enrollment_id"] for d in data)
    run_jobs()
    assert len(receiver.requests) == 3


# --- suspension.ended, also when a suspension simply runs out -----------------------------


def suspension(sub_account, *, starts, ends):
    violation = Violation.objects.create(sub_account=sub_account, kind="error_rate", level="suspension", action="t")
    return Suspension.objects.create(sub_account=sub_account, cause="error_rate", violation=violation,
                                     started_at=starts, ends_at=ends)  # fmt: skip


def test_a_suspension_running_out_is_announced_once(world, receiver, committed):
    endpoint(world.a1, receiver.url, events=["suspension.started", "suspension.ended"])
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        s = suspension(world.a1, starts=now, ends=now + timedelta(hours=2))
        lifted = suspension(world.a1, starts=now, ends=now + timedelta(hours=2))
        lifted.lift(user=world.a_admin, note="ack", now=now + timedelta(minutes=5))
        ended = lambda: [d.body["data"] for d in WebhookDelivery.objects.filter(event_type="suspension.ended")]  # noqa: E731
        assert [d["ended_by"] for d in ended()] == ["lifted"]
        clock.move_to(now + timedelta(hours=2) - timedelta(seconds=1))
        assert suspensions_ended_sweep() == 0
        clock.move_to(now + timedelta(hours=2))
        with committed():
            assert suspensions_ended_sweep() == 1
        assert suspensions_ended_sweep() == 0  # once
    by_time = [d for d in ended() if d["ended_by"] == "time"]
    assert len(by_time) == 1 and by_time[0]["suspension_id"] == str(s.pk) and by_time[0]["lifted_at"] is None
    assert django_rq.get_queue("webhooks").count == 1
    s.refresh_from_db()
    assert s.end_announced_at == now + timedelta(hours=2)


def test_a_permanent_suspension_is_never_announced_by_the_sweep(world, receiver):
    endpoint(world.a1, receiver.url, events=["suspension.ended"])
    violation = Violation.objects.create(sub_account=world.a1, kind="error_rate", level="suspension", action="t")
    Suspension.objects.create(sub_account=world.a1, cause="error_rate", violation=violation,
                              kind="permanent", started_at=timezone.now(), ends_at=None)  # fmt: skip
    with time_machine.travel(timezone.now() + timedelta(days=60)):
        assert suspensions_ended_sweep() == 0
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks (CI runs it)")
def test_four_workers_running_the_same_delivery_at_once_post_it_once(world, receiver):
    receiver.delay = 0.3  # the first claimer is still waiting for the answer when the others try
    endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    barrier, errors = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            webhooks_out.deliver(delivery.pk)
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    delivery.refresh_from_db()
    assert len(receiver.requests) == 1 and delivery.attempts == 1 and delivery.log.count() == 1
    assert delivery.state == DeliveryState.DELIVERED
