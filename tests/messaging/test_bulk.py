"""The Bulk SMS page: live count and composed preview, the preview the user confirms (R2, R7,
R10, R11) which sends nothing, confirm (now or scheduled), test SMS, progress and report."""

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from compliance.models import ConsentEvent, RampState, SnowshoeHold, Violation
from messaging import bulk
from messaging.models import BulkSend, Contact, Message, PhoneNumber, Source, Status, Tag

pytestmark = pytest.mark.django_db

FROM = "+16465550101"
SENTENCE = (
    "You are allowed to send 100 message(s) in a day. You have already sent 90 message(s). "
    "If you wish to proceed, 13 Message(s) will be failed."
)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def audience(world):
    """30 contacts of a1: 3 with DND, 4 without consent, 23 who may get a bulk message."""
    world.a1_contact.delete()
    contacts = Contact.objects.bulk_create(
        Contact(
            sub_account=world.a1,
            phone=f"+1305555{i:04d}",
            first_name=f"P{i:02d}",
            dnd="permanent" if i < 3 else "none",
            consent="none" if 3 <= i < 7 else "granted",
        )
        for i in range(30)
    )
    return contacts


def ramp_at_level_1_with(world, sent):
    now = timezone.now()
    RampState.objects.update_or_create(
        sub_account=world.a1,
        defaults={"level": 1, "started_at": now - timedelta(hours=1), "window_start": now - timedelta(hours=1),
                  "window_count": sent},
    )  # fmt: skip


def url(name, world, **kwargs):
    return reverse(name, kwargs={"sub_account_id": world.a1.pk, **kwargs})


def form(**fields):
    return {"body": "Hi {first_name}, cleaning week!", "audience": "all", "sender": FROM, "when": "now"} | fields


def preview(client, world, **fields):
    response = client.post(url("bulk_preview", world), form(**fields))
    assert response.status_code == 200
    return response


def confirm(client, world, response):
    return client.post(url("bulk_confirm", world), {"token": response.context["token"]})


# --- Compose --------------------------------------------------------------------------------


def test_index_shows_the_compose_form_and_history(world, login):
    BulkSend.objects.create(sub_account=world.a1, body="Old promo", audience="All contacts", status="done")
    page = login(world.a1_user).get(url("bulk_index", world)).content.decode()
    assert 'name="body"' in page and "Old promo" in page and "Preview" in page
    assert 'hx-trigger="input changed delay:300ms"' in page  # paste, autofill, drag-drop too (#15)


def test_live_count_and_composed_texts(world, login, audience):
    client = login(world.a1_owner)
    response = client.post(url("bulk_count", world), form(body="Hi {first_name} €"), headers=HTMX)
    html = response.content.decode()
    assert 'id="live"' in html and "<html" not in html  # the partial only
    assert "GSM-7 · 9 characters · 1 segment" in html  # merged: "Hi P00 €", and "€" counts twice
    # The first contact of the audience, initial (R5/R6 appended) and follow-up side by side.
    assert "Hi P00 €\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe</pre>" in html
    assert 'data-testid="composed-follow-up">Hi P00 €</pre>' in html

    html = client.post(url("bulk_count", world), form(body="Zdravo ć 😀"), headers=HTMX).content.decode()
    assert "UCS-2 · 11 characters · 1 segment" in html  # the emoji takes two UTF-16 units


def test_live_count_placeholder_contact_for_an_empty_audience_or_csv(world, login):
    world.a1_contact.delete()
    html = login(world.a1_owner).get(url("bulk_count", world), {"body": "Hi {first_name}"}, headers=HTMX)
    assert "Hi Alex\nThanks, Sunrise Dental Care" in html.content.decode()


def test_r5_r6_a_scheduled_send_is_still_a_bulk_action_and_its_preview_shows_both_texts(world, login, audience):
    # A Bulk SMS is a bulk action whenever it is sent: scheduling it must not drop the opt-out
    # and sender texts of its initial messages (R5/R6), and the preview shows exactly what goes.
    html = login(world.a1_owner).post(url("bulk_count", world), form(when="later"), headers=HTMX).content.decode()
    assert (
        'data-testid="composed-initial">Hi P00, cleaning week!\nThanks, Sunrise Dental Care\n'
        "Reply STOP to unsubscribe</pre>"
    ) in html


def test_unknown_merge_field_is_an_inline_error(world, login):
    client = login(world.a1_owner)
    html = client.post(url("bulk_count", world), form(body="Hi {frist_name}"), headers=HTMX).content.decode()
    assert "Unknown merge field(s): {frist_name}." in html
    response = client.post(url("bulk_preview", world), form(body="Hi {frist_name}"))
    assert "Unknown merge field(s): {frist_name}." in response.content.decode()
    assert "token" not in response.context


def test_live_warning_for_prohibited_content_records_nothing(world, login):
    html = (
        login(world.a1_owner)
        .post(url("bulk_count", world), form(body="Win big at our c.a.s.i.n.o tonight"), headers=HTMX)
        .content.decode()
    )
    assert 'data-testid="content-warning"' in html and "c.a.s.i.n.o" in html
    assert not Violation.objects.exists()


# --- Preview --------------------------------------------------------------------------------


def test_preview_counts_skips_and_the_ramp_sentence_and_sends_nothing(world, login, audience):
    ramp_at_level_1_with(world, 90)
    response = preview(login(world.a1_owner), world)
    p = response.context["preview"]
    assert (p.total, p.dnd, p.no_consent, p.over_limit, p.will_send) == (30, 3, 4, 13, 10)
    html = response.content.decode()
    assert SENTENCE in html
    assert "Confirm and send" in html and 'name="token"' in html
    assert not Message.objects.exists() and not BulkSend.objects.exists()
    assert django_rq.get_queue("dispatch").count == 0


def test_preview_query_count_does_not_grow_with_the_audience(world, login, audience, django_assert_max_num_queries):
    client = login(world.a1_owner)
    Contact.objects.bulk_create(Contact(sub_account=world.a1, phone=f"+1786555{i:04d}") for i in range(500))
    with django_assert_max_num_queries(25):
        preview(client, world)


def test_tag_audience(world, login, audience):
    vip = Tag.objects.create(sub_account=world.a1, name="vip")
    lead = Tag.objects.create(sub_account=world.a1, name="lead")
    for c in audience[:5]:  # 3 DND, 2 without consent
        c.tags.add(vip)
    for c in audience[4:10]:  # overlaps with vip on one contact: counted once
        c.tags.add(lead)
    response = preview(login(world.a1_owner), world, audience="tags", tags=[vip.pk, lead.pk])
    p = response.context["preview"]
    assert (p.total, p.dnd, p.no_consent, p.will_send) == (10, 3, 4, 3)
    assert "Tags: lead, vip" in response.content.decode()


def test_tag_audience_needs_a_tag(world, login):
    response = login(world.a1_owner).post(url("bulk_preview", world), form(audience="tags"))
    assert "Choose at least one tag." in response.content.decode()


def test_csv_audience_matches_contacts_and_reports_unknown_numbers(world, login, audience):
    text = "phone,name\n(305) 555-0000\n+13055550010\n+12025550199\nnot a number\n+13055550011\n"
    upload = SimpleUploadedFile("list.csv", text.encode(), content_type="text/csv")
    response = preview(login(world.a1_owner), world, audience="csv", file=upload)
    p = response.context["preview"]
    assert (p.total, p.dnd, p.will_send) == (3, 1, 2)
    html = response.content.decode()
    assert "1 number in the file is not a contact" in html and "+12025550199" in html
    assert "row 5" in html  # the invalid row, by its spreadsheet number
    assert not Contact.objects.filter(phone="+12025550199").exists()  # reported, not created

    confirm(login(world.a1_owner), world, response)
    sent = BulkSend.objects.get()
    assert sent.total == 3 and sent.audience == "File: list.csv (3 contacts matched)"
    assert set(sent.messages.values_list("to_number", flat=True)) == {"+13055550000", "+13055550010", "+13055550011"}


def test_csv_without_a_header_row(world, login, audience):
    upload = SimpleUploadedFile("numbers.csv", b"+13055550020\n+13055550021\n")
    response = preview(login(world.a1_owner), world, audience="csv", file=upload)
    assert response.context["preview"].total == 2


def test_snowshoe_is_previewed_and_held(world, login, audience, memory_provider, run_jobs,
                                        django_capture_on_commit_callbacks):  # fmt: skip
    world.ramp_at_top(world.a1)
    for n in ("+16465550102", "+16465550103", "+16465550104"):
        PhoneNumber.objects.create(sub_account=world.a1, number=n)
    client = login(world.a1_owner)
    response = preview(client, world, sender="rotate")
    assert len(response.context["preview"].snowshoe) == 4
    assert 'data-testid="snowshoe"' in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        confirm(client, world, response)
    run_jobs()
    sent = BulkSend.objects.get()
    assert sent.status == "held" and SnowshoeHold.objects.filter(sub_account=world.a1).count() == 1
    queued = sent.messages.filter(status=Status.QUEUED)
    assert queued.count() == 23 and not queued.filter(hold__isnull=True).exists()
    assert len({m.from_number for m in queued}) == 4  # rotated across all four numbers
    assert memory_provider.outbox == []
    page = client.get(url("bulk_detail", world, bulk_id=sent.pk)).content.decode()
    assert 'data-testid="held"' in page and "hx-trigger" not in page  # nothing to poll for


# --- Confirm --------------------------------------------------------------------------------


def test_confirm_creates_the_bulk_send_and_messages_and_dispatches(
    world, login, audience, memory_provider, run_jobs, django_capture_on_commit_callbacks
):
    ramp_at_level_1_with(world, 90)
    client = login(world.a1_user)
    response = preview(client, world)
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(client, world, response)
    sent = BulkSend.objects.get()
    assert response.status_code == 302 and response["Location"] == url("bulk_detail", world, bulk_id=sent.pk)
    assert (sent.source, sent.status, sent.total, sent.audience) == ("bulk", "sending", 30, "All contacts")
    assert sent.preview["will_send"] == 10 and sent.preview["ramp_sentence"] == SENTENCE
    messages = Message.objects.filter(bulk_send=sent)
    assert messages.count() == 30 and set(messages.values_list("source", flat=True)) == {Source.BULK}
    failed = dict(messages.filter(status=Status.FAILED).values_list("to_number", "failure_reason"))
    assert list(failed.values()).count("Cannot send messages as DND is active for SMS.") == 3
    assert sum("No consent on record" in r for r in failed.values()) == 4
    assert list(failed.values()).count(SENTENCE) == 13
    assert messages.filter(status=Status.QUEUED).count() == 10

    run_jobs()
    assert len(memory_provider.outbox) == 10
    # Composed per recipient (R5/R6 on the initial message); the dispatch order within one send is not fixed.
    assert "Hi P07, cleaning week!\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe" in {
        sms.body for sms in memory_provider.outbox
    }
    assert messages.filter(status=Status.SENT).count() == 10


def test_confirm_uses_the_state_at_confirm_time(world, login, audience, django_capture_on_commit_callbacks):
    world.ramp_at_top(world.a1)
    client = login(world.a1_owner)
    response = preview(client, world)
    Contact.objects.filter(pk=audience[10].pk).update(dnd="permanent")  # opted out meanwhile
    Contact.objects.create(sub_account=world.a1, phone="+13055559999", consent="granted")  # added meanwhile
    confirm(client, world, response)
    sent = BulkSend.objects.get()
    assert sent.total == 31 and sent.preview["dnd"] == 4
    assert sent.messages.get(contact=audience[10]).status == Status.FAILED


def test_confirm_in_batches(world, login, audience, monkeypatch):
    world.ramp_at_top(world.a1)
    monkeypatch.setattr(bulk, "BATCH", 7)
    calls = []
    original = bulk.services.messages_send
    monkeypatch.setattr(bulk.services, "messages_send", lambda **kw: calls.append(1) or original(**kw))
    client = login(world.a1_owner)
    confirm(client, world, preview(client, world))
    assert len(calls) == 5 and Message.objects.count() == 30


def test_tampered_token_is_refused(world, login, audience):
    client = login(world.a1_owner)
    response = client.post(url("bulk_confirm", world), {"token": "forged:token"})
    assert response.status_code == 400 and not BulkSend.objects.exists()


def test_another_users_token_is_refused(world, login, audience):
    token = preview(login(world.a1_owner), world).context["token"]
    response = login(world.a1_user).post(url("bulk_confirm", world), {"token": token})
    assert response.status_code == 400 and not Message.objects.exists()


def test_scheduled_send_is_queued_for_later_as_bulk_and_nothing_is_enqueued_now(
    world, login, audience, memory_provider, run_jobs, django_capture_on_commit_callbacks
):
    world.ramp_at_top(world.a1)
    client = login(world.a1_owner)
    response = preview(client, world, when="later", send_at="2099-06-01T09:30", name="Spring checkups")
    assert response.context["send_at"].isoformat() == "2099-06-01T09:30:00-04:00"  # America/New_York
    assert "Campaign “Spring checkups”" in response.content.decode()
    assert "scheduled for Jun 1, 2099 09:30 (America/New_York)" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        confirm(client, world, response)
    sent = BulkSend.objects.get()
    assert (sent.source, sent.status, sent.name) == ("bulk", "scheduled", "Spring checkups")
    assert sent.scheduled_for.isoformat() == "2099-06-01T13:30:00+00:00"
    queued = sent.messages.filter(status=Status.QUEUED)
    assert queued.count() == 23 and set(queued.values_list("source", flat=True)) == {"bulk"}
    # R5/R6: the initial messages of a scheduled Bulk SMS carry both texts, as previewed.
    first = queued.get(contact__first_name="P07")
    assert first.body_sent == "Hi P07, cleaning week!\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe"
    assert set(queued.values_list("send_after", flat=True)) == {sent.scheduled_for}
    assert django_rq.get_queue("dispatch").count == 0
    run_jobs()
    assert memory_provider.outbox == []
    page = client.get(url("bulk_detail", world, bulk_id=sent.pk)).content.decode()
    assert "Waiting until" in page and "hx-trigger" not in page


def test_scheduled_time_must_be_in_the_future(world, login, audience):
    response = login(world.a1_owner).post(url("bulk_preview", world), form(when="later", send_at="2001-01-01T10:00"))
    assert "The scheduled time must be in the future." in response.content.decode()
    response = login(world.a1_owner).post(url("bulk_preview", world), form(when="later"))
    assert "Choose when to send." in response.content.decode()


def test_content_blocked(world, login, audience):
    client = login(world.a1_owner)
    response = preview(client, world, body="Win big at our c.a.s.i.n.o tonight")
    html = response.content.decode()
    assert 'data-testid="content-blocked"' in html and "c.a.s.i.n.o" in html
    assert "Confirm and send" not in html
    assert not Violation.objects.exists()  # the preview records nothing

    response = confirm(client, world, response)  # even a confirm forced through is blocked
    sent = BulkSend.objects.get()
    assert sent.status == "blocked" and not Message.objects.exists()
    assert Violation.objects.filter(sub_account=world.a1, kind="prohibited_content").count() == 1
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="blocked"' in page and "c.a.s.i.n.o" in page


# --- Test SMS -------------------------------------------------------------------------------


def test_test_sms_to_the_users_own_number(world, login):
    world.ramp_at_top(world.a1)
    client = login(world.a1_owner)
    data = form(body="Hi {first_name}!", test_number="(786) 555-0142")
    html = client.post(url("bulk_test", world), data, headers=HTMX).content.decode()
    message = Message.objects.get()
    assert (message.source, message.status, message.to_number) == ("test", "queued", "+17865550142")
    assert message.body_sent == "Hi !\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe"
    assert message.bulk_send is None and "Test message queued to +17865550142" in html
    assert Contact.objects.filter(sub_account=world.a1, phone="+17865550142").exists()


def test_test_sms_invalid_number_and_dnd(world, login):
    client = login(world.a1_owner)
    html = client.post(url("bulk_test", world), form(test_number="12"), headers=HTMX).content.decode()
    assert "is not a valid phone number" in html or "is not a phone number" in html
    assert not Message.objects.exists()
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="temporary")
    html = client.post(url("bulk_test", world), form(test_number=world.a1_contact.phone), headers=HTMX)
    assert "Cannot send messages as DND is active for SMS." in html.content.decode()


# --- Progress and report --------------------------------------------------------------------


def test_progress_polls_while_queued_and_stops_when_done(world, login, audience, run_jobs,
                                                         django_capture_on_commit_callbacks):  # fmt: skip
    world.ramp_at_top(world.a1)
    client = login(world.a1_owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(client, world, preview(client, world))
    detail = response["Location"]
    html = client.get(detail, headers=HTMX).content.decode()
    assert html.lstrip().startswith('<section id="progress"') and 'hx-trigger="every 2s"' in html
    assert 'aria-valuenow="23"' in html  # 7 of 30 already failed (DND, consent)
    run_jobs()
    html = client.get(detail, headers=HTMX).content.decode()
    assert "hx-trigger" not in html and 'aria-valuenow="100"' in html
    assert 'data-testid="r-sent">23<' in html
    assert BulkSend.objects.get().status == "done"


def test_report_counts(world, login, audience, django_assert_max_num_queries):
    world.ramp_at_top(world.a1)
    client = login(world.a1_owner)
    confirm(client, world, preview(client, world))
    sent = BulkSend.objects.get()
    queued = list(sent.messages.filter(status=Status.QUEUED).order_by("to_number"))
    outcomes = [("delivered", "")] * 15 + [("undelivered", "30003")] * 3 + [("undelivered", "30007")] * 2
    outcomes += [("sent", "")] * 2 + [("failed", "")]
    for m, (status, code) in zip(queued, outcomes, strict=True):
        reason = "Rejected by the carrier (21211): invalid" if status == "failed" else ""
        Message.objects.filter(pk=m.pk).update(status=status, error_code=code, failure_reason=reason)
    # An opt-out by a recipient after the send started counts; one from before it does not.
    ConsentEvent.objects.create(sub_account=world.a1, contact=queued[0].contact, kind="opt_out", source="Keyword",
                                at=timezone.now())  # fmt: skip
    other = Contact.objects.create(sub_account=world.a1, phone="+13055558888")
    ConsentEvent.objects.create(
        sub_account=world.a1, contact=other, kind="opt_out", source="Keyword", at=timezone.now()
    )

    with django_assert_max_num_queries(8):
        report = bulk.bulk_report(sent)
    assert (report.total, report.handed, report.delivered, report.undelivered, report.failed) == (30, 22, 15, 5, 8)
    assert report.opt_outs == 1 and report.pending == 0 and not report.polling
    assert [(r["error_code"], r["n"]) for r in report.undelivered_by_code] == [("30003", 3), ("30007", 2)]
    reasons = {r["failure_reason"]: r["n"] for r in report.failed_by_reason}
    assert reasons["Cannot send messages as DND is active for SMS."] == 3
    assert reasons["Rejected by the carrier (21211): invalid"] == 1

    html = client.get(url("bulk_detail", world, bulk_id=sent.pk)).content.decode()
    for testid, n in [("r-total", 30), ("r-sent", 22), ("r-delivered", 15), ("r-undelivered", 5), ("r-failed", 8),
                      ("r-optouts", 1)]:  # fmt: skip
        assert f'data-testid="{testid}">{n}<' in html
    assert "30003" in html and "30007" in html
    index = client.get(url("bulk_index", world)).content.decode()
    assert url("bulk_detail", world, bulk_id=sent.pk) in index


# --- Access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("user_attr", ["a_admin", "a_staff", "a1_owner", "a1_user"])
def test_every_user_of_the_sub_account_may_send_bulk(world, login, audience, user_attr):
    world.ramp_at_top(world.a1)
    client = login(getattr(world, user_attr))
    assert client.get(url("bulk_index", world)).status_code == 200
    assert confirm(client, world, preview(client, world)).status_code == 302
    assert BulkSend.objects.count() == 1


def test_other_tenants_get_404(world, login, audience):
    sent = BulkSend.objects.create(sub_account=world.a1, body="x", audience="All contacts")
    client = login(world.b_admin)
    assert client.get(url("bulk_index", world)).status_code == 404
    assert client.post(url("bulk_preview", world), form()).status_code == 404
    assert client.post(url("bulk_confirm", world), {"token": "x"}).status_code == 404
    assert client.post(url("bulk_test", world), form(test_number="+17865550142")).status_code == 404
    assert client.get(url("bulk_count", world)).status_code == 404
    assert client.get(url("bulk_detail", world, bulk_id=sent.pk)).status_code == 404
    # A bulk send of another sub-account, through a sub-account the user may see: 404 too.
    b_url = reverse("bulk_detail", kwargs={"sub_account_id": world.b1.pk, "bulk_id": sent.pk})
    assert client.get(b_url).status_code == 404
    assert not Message.objects.exists()


def test_support_sees_reports_but_does_not_send(world, login, audience):
    client = login(world.support)
    assert client.get(url("bulk_index", world)).status_code == 200
    assert client.post(url("bulk_preview", world), form()).status_code == 403


# --- R8 suspension --------------------------------------------------------------------------


@pytest.fixture
def suspended(world):
    """A temporary error-rate suspension in force until the next 00:00 UTC."""
    from compliance import monitoring
    from compliance.models import RateBucket, Suspension
    from compliance.rates import hour_of

    RateBucket.objects.create(
        sub_account=world.a1, hour=hour_of(timezone.now()), outbound=64, finalized=64, undelivered=8
    )
    monitoring.rates_evaluate(sub_account_id=world.a1.pk)
    return Suspension.objects.get(sub_account=world.a1)


def test_r8_preview_while_suspended_is_blocked_with_the_reason(world, login, audience, suspended):
    world.ramp_at_top(world.a1)
    response = preview(login(world.a1_owner), world)
    p = response.context["preview"]
    assert p.blocked and p.will_send == 0
    html = response.content.decode()
    assert f"suspended until {suspended.ends_at:%Y-%m-%d %H:%M} UTC" in html
    assert "Confirm and send" not in html


def test_r8_confirm_while_suspended_sends_nothing(world, login, audience, suspended):
    world.ramp_at_top(world.a1)
    client = login(world.a1_owner)
    response = preview(client, world, when="later", send_at="2099-06-01T09:30")  # previewed for later: allowed
    assert not response.context["preview"].blocked
    suspended.ends_at = datetime(2099, 6, 2, tzinfo=UTC)  # the suspension now covers the send time
    suspended.save(update_fields=["ends_at"])
    page = client.get(confirm(client, world, response).url).content.decode()
    assert "temporarily suspended until 2099-06-02 00:00 UTC" in page
    assert not BulkSend.objects.exists() and not Message.objects.filter(direction="outbound").exists()


def test_r8_a_campaign_scheduled_after_the_suspension_ends_is_queued(world, login, audience, suspended):
    world.ramp_at_top(world.a1)
    client = login(world.a1_owner)
    response = preview(client, world, when="later", send_at="2099-06-01T09:30")
    confirm(client, world, response)
    sent = BulkSend.objects.get()
    assert sent.messages.filter(status=Status.QUEUED).count() == 23


def test_r7_every_batch_records_the_sentence_the_user_confirmed(world, login, audience, monkeypatch):
    ramp_at_level_1_with(world, 90)
    monkeypatch.setattr(bulk, "BATCH", 7)  # 30 contacts in 5 calls: each would compute its own sentence
    client = login(world.a1_owner)
    response = preview(client, world)
    assert SENTENCE in response.content.decode()
    confirm(client, world, response)
    over = Message.objects.filter(failure_reason__startswith="You are allowed")
    assert over.count() == 13 and set(over.values_list("failure_reason", flat=True)) == {SENTENCE}
