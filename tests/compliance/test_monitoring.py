"""R8 end to end: messages go out through the real dispatch job, signed Twilio receipts and
STOP replies come back through the real webhook views, and the sub-account is pushed across each
threshold. Asserts the Violation rows, the emails in the outbox (once per UTC day), the
suspension's end at 00:00 UTC, which sources are refused and which still go."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from compliance import monitoring, notices, suspensions
from compliance.models import RateBucket, Suspension, UndeliveredCode, Violation
from messaging import dispatch, services
from messaging.models import Contact, Message, Source, Status
from tests.compliance.conftest import NOON
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

MIDNIGHT = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
STEPS = (
    "Stop all your workflows, campaigns, triggers and/or bulk actions to contacts who have not explicitly opted in",
    "Enable and customize the opt-out language and sender identification",
    "no bulk communication, message blasts or cold prospecting campaigns",
)


def receipts(receipt, messages, delivered, undelivered, code="30008"):
    """`delivered` delivered receipts first, then `undelivered` undelivered ones."""
    for m in messages[:delivered]:
        receipt(m, "delivered", jobs=False)
    for m in messages[delivered : delivered + undelivered]:
        receipt(m, "undelivered", code, jobs=False)
    receipt.run_jobs()


def rate_violations(world, **filters):
    return list(Violation.objects.filter(sub_account=world.a1, kind__in=["error_rate", "opt_out_rate"], **filters))


# --- Error rate ------------------------------------------------------------------------------


def test_below_rate_min_volume_nothing_happens(world, contacts, send, receipt):
    messages = send(contacts, 49)
    receipts(receipt, messages, 0, 49, code="30007")  # 100 % errors, but only 49 final statuses
    assert rate_violations(world) == [] and mail.outbox == []
    assert not Suspension.objects.exists()


def test_just_below_8_percent_nothing_happens(world, contacts, send, receipt):
    receipts(receipt, send(contacts, 51), 47, 4)  # 4 of 51: 7.84 %
    assert rate_violations(world) == [] and mail.outbox == []


def test_error_rate_of_exactly_8_percent_sends_one_violation_email(world, contacts, send, receipt):
    messages = send(contacts, 60)
    receipts(receipt, messages, 46, 4)  # 4 of 50: exactly 8 %
    [violation] = rate_violations(world)
    assert (violation.kind, violation.level, violation.action) == ("error_rate", "violation", "Violation email sent")
    assert violation.detail["error_rate"] == "8 %" and violation.detail["finalized"] == 50
    assert violation.detail["undelivered"] == 4 and violation.detail["outbound"] == 60
    assert violation.detail["window_start"] == "2026-11-22T13:00:00+00:00"
    assert violation.notice_day == NOON.date() and violation.emailed_at is not None
    [email] = mail.outbox
    # To the agency admins and the sub-account owners; not staff, users or the other tenant.
    assert sorted(email.to) == ["admin@acme.test", "owner@sunrise.test"]
    assert email.subject == "Messaging violation for Sunrise Dental: high error rate"
    assert "Error rate:   8 %" in email.body
    for step in STEPS:
        assert step in email.body
    [(html, mime)] = email.alternatives
    assert mime == "text/html" and STEPS[0] in html and "<strong>8 %</strong>" in html
    # More errors the same UTC day (still below 12.5 %): no second email, no second Violation.
    receipts(receipt, messages[50:], 8, 2)  # 6 of 60: 10 %
    assert len(rate_violations(world)) == 1 and len(mail.outbox) == 1
    assert not Suspension.objects.exists()


def test_violation_email_at_most_once_per_utc_day(world, contacts, send, receipt, clock):
    messages = send(contacts, 120)
    receipts(receipt, messages, 46, 4)
    clock.move_to(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))
    receipt(messages[50], "undelivered", "30008")
    assert len(mail.outbox) == 1
    clock.move_to(MIDNIGHT)  # a new UTC day, the rate still over 8 % in the trailing 24 h
    receipt(messages[51], "undelivered", "30008")
    assert len(mail.outbox) == 2
    assert [v.notice_day for v in rate_violations(world)] == [MIDNIGHT.date(), NOON.date()]
    receipt(messages[52], "delivered")  # 6 of 53: still a violation, evaluated, not emailed again
    assert len(mail.outbox) == 2


def test_error_rate_of_exactly_12_5_percent_suspends_until_midnight_utc(world, contacts, send, receipt):
    messages = send(contacts, 64)
    receipts(receipt, messages, 56, 7)  # 7 of 63: 11.1 % → the violation email on the way
    assert [v.level for v in rate_violations(world)] == ["violation"]
    receipt(messages[63], "undelivered", "30008")  # 8 of 64: exactly 12.5 %
    suspension = Suspension.objects.get(sub_account=world.a1)
    assert (suspension.cause, suspension.started_at, suspension.ends_at) == ("error_rate", NOON, MIDNIGHT)
    assert suspension.violation.level == "suspension" and suspension.violation.detail["error_rate"] == "12.5 %"
    assert "until Nov 23, 2026, 7:00 PM EST (00:00 UTC)" in suspension.violation.action
    assert [e.subject for e in mail.outbox] == [
        "Messaging violation for Sunrise Dental: high error rate",
        "Sending suspended for Sunrise Dental until Nov 23, 2026, 7:00 PM EST (00:00 UTC): high error rate",
    ]
    body = mail.outbox[1].body
    assert "temporarily suspended until Nov 23, 2026, 7:00 PM EST (00:00 UTC)" in body
    assert "One-to-one conversations, test SMS, resends and missed-call text back still go." in body
    for step in STEPS:
        assert step in body


def test_straight_to_suspension_sends_only_the_suspension_email(world, contacts, send, receipt):
    messages = send(contacts, 64)
    receipts(receipt, messages, 0, 8, code="30007")
    receipts(receipt, messages[8:], 56, 0)  # the 50th final status finds 8 of 50 = 16 %
    assert [v.level for v in rate_violations(world)] == ["suspension"]
    assert len(mail.outbox) == 1 and mail.outbox[0].subject.startswith("Sending suspended")
    # Further receipts while suspended: no second suspension, no violation email on top.
    receipts(receipt, send(contacts[64:], 10, source="one_to_one"), 0, 10)
    assert Suspension.objects.count() == 1 and len(mail.outbox) == 1


# --- Opt-out rate ----------------------------------------------------------------------------


def test_opt_out_rate_just_below_1_percent_nothing_happens(world, contacts, send, stop):
    send(contacts, 101)
    stop(contacts[0])  # 1 of 101
    assert rate_violations(world) == [] and mail.outbox == []


def test_opt_out_rate_of_exactly_1_percent_sends_the_violation_email(world, contacts, send, stop):
    send(contacts, 100)
    stop(contacts[0], "Stop please")  # a reasonable-person opt-out counts too (R3)
    [violation] = rate_violations(world)
    assert (violation.kind, violation.level, violation.detail["opt_out_rate"]) == ("opt_out_rate", "violation", "1 %")
    assert [e.subject for e in mail.outbox] == ["Messaging violation for Sunrise Dental: high opt-out rate"]
    # The confirmation reply is a compliance message: not counted as outbound.
    assert Message.objects.filter(source=Source.KEYWORD_REPLY).count() == 1
    assert RateBucket.objects.get(sub_account=world.a1).outbound == 100
    # The same contact opting out again is not a second opt-out (R3).
    stop(contacts[0], "STOP")
    assert RateBucket.objects.get(sub_account=world.a1).opt_outs == 1


def test_opt_out_rate_of_exactly_2_5_percent_suspends(world, contacts, send, stop):
    send(contacts, 200)
    for contact in contacts[:4]:
        stop(contact)  # 2 %: a violation
    assert not Suspension.objects.exists()
    stop(contacts[4])  # 5 of 200: exactly 2.5 %
    suspension = Suspension.objects.get()
    assert (suspension.cause, suspension.ends_at) == ("opt_out_rate", MIDNIGHT)
    assert [v.level for v in rate_violations(world)] == ["suspension", "violation"]


# --- Enforcement -----------------------------------------------------------------------------


@pytest.fixture
def suspended(world, contacts):
    """Suspended at noon (the webhook path to it is tested above): 8 of 64 undelivered."""
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=64, finalized=64, undelivered=8)
    monitoring.rates_evaluate(sub_account_id=world.a1.pk)
    return Suspension.objects.get(sub_account=world.a1)


REASON = (
    "Sending is temporarily suspended until Nov 23, 2026, 7:00 PM EST (00:00 UTC) because the error rate crossed "
    "its limit. Bulk, workflow and campaign messages are not sent until then."
)


def send_one(world, contact, source):
    return services.messages_send(sub_account=world.a1, contacts=[contact], body="Hello", source=source)[0]


@pytest.mark.parametrize("source", ["bulk", "workflow", "campaign"])
def test_suspended_sources_are_failed_with_the_reason(world, contacts, suspended, source):
    message = send_one(world, contacts[100], source)
    assert (message.status, message.failure_reason) == (Status.FAILED, REASON)


@pytest.mark.parametrize("source", ["one_to_one", "test", "resend", "missed_call_text_back"])
def test_other_sources_still_go_while_suspended(world, contacts, suspended, source):
    assert send_one(world, contacts[100], source).status == Status.QUEUED


def test_the_api_reports_the_suspension(world, contacts, suspended, client):
    from messaging.keys import api_key_create

    _key, secret = api_key_create(sub_account=world.a1, name="zapier", user=None)
    response = client.post(
        "/api/v1/messages", {"to": contacts[100].phone, "body": "Hi", "source": "workflow"},
        content_type="application/json", headers={"Authorization": f"Bearer {secret}"},
    )  # fmt: skip
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["failure_reason"]) == ("failed", REASON)


def test_queued_messages_are_failed_at_dispatch_when_a_suspension_starts(
    world, contacts, send, receipt, run_jobs, django_capture_on_commit_callbacks
):
    messages = send(contacts, 64)
    # Queued before the suspension, dispatched after it started: re-checked at dispatch.
    queued = services.messages_send(sub_account=world.a1, contacts=contacts[100:103], body="Later", source="bulk")
    one = send_one(world, contacts[110], "one_to_one")
    receipts(receipt, messages, 0, 8, code="30007")
    receipts(receipt, messages[8:], 56, 0)
    assert Suspension.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.enqueue_dispatch([str(m.pk) for m in [*queued, one]])
    run_jobs()
    for m in queued:
        m.refresh_from_db()
        assert (m.status, m.failure_reason) == (Status.FAILED, REASON)
    one.refresh_from_db()
    assert one.status == Status.SENT


def test_the_suspension_ends_at_midnight_utc_by_time_alone(world, contacts, suspended, clock):
    clock.move_to(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))
    assert send_one(world, contacts[100], "bulk").status == Status.FAILED
    clock.move_to(MIDNIGHT)  # no job ran: the suspension is simply over
    assert send_one(world, contacts[101], "bulk").status == Status.QUEUED
    assert suspensions.suspension_in_force(world.a1.pk, MIDNIGHT) is None


def test_suspension_ends_alternative_24h(world, contacts, send, receipt, settings, clock):
    settings.COMPLIANCE_POLICY = {**settings.COMPLIANCE_POLICY, "SUSPENSION_ENDS": "24h"}
    messages = send(contacts, 64)
    receipts(receipt, messages, 0, 8, code="30007")
    receipts(receipt, messages[8:], 56, 0)
    assert Suspension.objects.get().ends_at == NOON + timedelta(hours=24)
    clock.move_to(MIDNIGHT)
    assert send_one(world, contacts[100], "bulk").status == Status.FAILED
    clock.move_to(NOON + timedelta(hours=23, minutes=59, seconds=59))
    assert send_one(world, contacts[101], "bulk").status == Status.FAILED
    clock.move_to(NOON + timedelta(hours=24))
    assert send_one(world, contacts[102], "bulk").status == Status.QUEUED


def test_other_sub_accounts_are_not_affected(world, contacts, suspended):
    other = Contact.objects.create(sub_account=world.a2, phone="+12125559999", consent="granted")
    world.ramp_at_top(world.a2)
    message = services.messages_send(sub_account=world.a2, contacts=[other], body="Hi", source="bulk")[0]
    assert message.status == Status.QUEUED


# --- Counters, the scheduled safety net, the email job ---------------------------------------


def test_a_receipt_twice_is_counted_once(world, contacts, send, receipt):
    [message] = send(contacts, 1)
    receipt(message, "undelivered", "30003")
    receipt(message, "undelivered", "30003")
    receipt(message, "delivered")  # out of order, after the final status: ignored
    bucket = RateBucket.objects.get(sub_account=world.a1)
    assert (bucket.outbound, bucket.finalized, bucket.undelivered, bucket.delivered) == (1, 1, 1, 0)
    assert UndeliveredCode.objects.get(sub_account=world.a1).count == 1


def test_counters_do_not_scan_the_message_table_per_receipt(world, contacts, send, client,
                                                            django_assert_max_num_queries):  # fmt: skip
    messages = send(contacts, 60)
    params = {"MessageSid": messages[0].provider_sid, "MessageStatus": "undelivered", "ErrorCode": "30008"}
    with django_assert_max_num_queries(25) as captured:
        post_signed(client, "/webhooks/twilio/status", params)
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "COUNT(" not in sql.upper()


def test_scheduled_evaluation_catches_what_a_request_missed(world, clock, run_jobs, django_capture_on_commit_callbacks):
    # Counters as a crashed request could have left them: over 12.5 %, never evaluated.
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=80, finalized=80, undelivered=20)
    RateBucket.objects.create(
        sub_account=world.a2, hour=NOON - timedelta(hours=30), outbound=80, finalized=80, undelivered=80
    )  # fmt: skip  (outside the trailing 24 h)
    with django_capture_on_commit_callbacks(execute=True):
        assert monitoring.rates_evaluate_all() == {"evaluated": 1, "over_a_threshold": 1}
    run_jobs()
    assert Suspension.objects.get().sub_account == world.a1
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        monitoring.rates_evaluate_all()  # idempotent: nothing new
    run_jobs()
    assert Suspension.objects.count() == 1 and len(mail.outbox) == 1


def test_the_email_job_run_twice_sends_once(world, clock):
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=100, finalized=100, undelivered=9)
    monitoring.rates_evaluate(sub_account_id=world.a1.pk)
    violation = Violation.objects.get()
    assert notices.violation_email_send(violation.pk) is True
    assert notices.violation_email_send(violation.pk) is False
    assert len(mail.outbox) == 1


def test_a_failed_email_is_given_back_for_a_retry(world, clock, settings):
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=100, finalized=100, undelivered=9)
    monitoring.rates_evaluate(sub_account_id=world.a1.pk)
    violation = Violation.objects.get()
    settings.EMAIL_BACKEND = "tests.compliance.test_monitoring.BrokenEmailBackend"
    with pytest.raises(ConnectionRefusedError):
        notices.violation_email_send(violation.pk)
    violation.refresh_from_db()
    assert violation.emailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notices.violation_email_send(violation.pk) is True and len(mail.outbox) == 1


def test_an_email_whose_job_was_lost_is_sent_by_the_sweep_once(world, clock):
    """Redis keeps no jobs across a restart: the violation is recorded, its job is gone."""
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=100, finalized=100, undelivered=9)
    monitoring.rates_evaluate(sub_account_id=world.a1.pk)
    violation = Violation.objects.get()
    recorded = violation.created_at
    assert notices.violation_emails_sweep(now=recorded + notices.SWEEP_AFTER - timedelta(seconds=1)) == 0
    assert notices.violation_emails_sweep(now=recorded + notices.SWEEP_AFTER) == 1
    assert notices.violation_emails_sweep(now=recorded + notices.SWEEP_AFTER * 2) == 0
    assert len(mail.outbox) == 1 and world.a1.name in mail.outbox[0].body


def test_the_sweep_leaves_old_violations_alone(world, clock):
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=100, finalized=100, undelivered=9)
    monitoring.rates_evaluate(sub_account_id=world.a1.pk)
    recorded = Violation.objects.get().created_at
    assert notices.violation_emails_sweep(now=recorded + notices.SWEEP_WITHIN + timedelta(seconds=1)) == 0
    assert mail.outbox == []


def test_a_redis_outage_does_not_fail_the_commit_that_recorded_the_violation(world, settings, caplog):
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "default": {"URL": "redis://127.0.0.1:1/0"}}
    notices.violation_email_enqueue(12345)  # no exception: logged, and the sweep sends it
    assert "violation 12345: email job not queued" in caplog.text


class BrokenEmailBackend:
    """The SMTP server refuses the connection (the edge we do not own)."""

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server refused the connection")


def test_r8_after_a_suspension_ends_the_rates_are_measured_afresh(world, contacts, suspended, clock, run_jobs,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    # The same bad hours are still in the trailing 24 h at midnight: they do not suspend again.
    clock.move_to(MIDNIGHT + timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert monitoring.rates_evaluate(sub_account_id=world.a1.pk).level == "none"
    assert Suspension.objects.count() == 1
    # New traffic over the threshold after the end does.
    RateBucket.objects.create(sub_account=world.a1, hour=MIDNIGHT, outbound=64, finalized=64, undelivered=8)
    with django_capture_on_commit_callbacks(execute=True):
        assert monitoring.rates_evaluate(sub_account_id=world.a1.pk).level == "suspension"
    assert Suspension.objects.count() == 2


def test_r8_after_a_self_lift_only_the_hours_after_it_count(world, suspended, clock):
    clock.move_to(NOON + timedelta(minutes=20))
    suspended.lift(user=world.a_admin, note="self-lift", now=NOON + timedelta(minutes=20))
    assert monitoring.measured_since(world.a1.pk, NOON + timedelta(hours=1)) == NOON + timedelta(minutes=20)
    # Within the lifted suspension's period nothing is re-decided; after its end, the hour of the
    # lift (12:00, partly before it) is left out, 13:00 on counts.
    clock.move_to(MIDNIGHT + timedelta(hours=1))
    counts = monitoring.window_counts(sub_account_id=world.a1.pk, now=MIDNIGHT + timedelta(hours=1),
                                      fresh_start=monitoring.measured_since(world.a1.pk, MIDNIGHT))  # fmt: skip
    assert counts.finalized == 0


def test_r8_the_dashboard_shows_the_counts_the_decision_uses(world, suspended, clock, login):
    from django.urls import reverse

    clock.move_to(MIDNIGHT + timedelta(hours=2))
    html = login(world.a1_owner).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    assert "Since Nov 23, 7:00 PM EST (measured afresh after the last suspension): 0 sent" in html


@pytest.mark.django_db(transaction=True)  # the provider runs in dispatch's pool thread: its own connection
def test_r8_a_suspension_recorded_mid_batch_stops_the_rest_of_the_batch(world, contacts, settings, memory_provider):
    """Dispatch re-checks before every wave of SMS_MAX_CONCURRENCY, not once per batch."""
    from django.db import connection

    from messaging import dispatch

    messages = services.messages_send(sub_account=world.a1, contacts=contacts[:10], body="Promo", source="bulk")
    original = memory_provider.MemoryProvider.send

    def send_then_suspend(self, sms):
        result = original(self, sms)
        if len(memory_provider.outbox) == 2 and not Suspension.objects.exists():
            RateBucket.objects.update_or_create(
                sub_account=world.a1, hour=NOON, defaults={"outbound": 64, "finalized": 64, "undelivered": 8}
            )
            monitoring.rates_evaluate(sub_account_id=world.a1.pk)
            connection.close()  # this thread's connection
        return result

    settings.SMS_MAX_CONCURRENCY = 1  # one at a time: the pool thread's database writes are then ordered
    memory_provider.MemoryProvider.send = send_then_suspend
    try:
        dispatch.dispatch_batch([str(m.pk) for m in messages])
    finally:
        memory_provider.MemoryProvider.send = original
    assert len(memory_provider.outbox) == 2
    assert Message.objects.filter(pk__in=[m.pk for m in messages], failure_reason=REASON).count() == 8


def test_r8_an_evaluation_with_an_older_now_does_not_suspend_twice(world, clock):
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=64, finalized=64, undelivered=8)
    monitoring.rates_evaluate(sub_account_id=world.a1.pk, now=NOON + timedelta(seconds=30))
    # The cron job read its clock before that receipt's transaction: its `now` is older.
    monitoring.rates_evaluate(sub_account_id=world.a1.pk, now=NOON)
    assert Suspension.objects.count() == 1
