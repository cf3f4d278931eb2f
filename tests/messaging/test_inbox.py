"""The inbox (#15): the list shows what was sent, the provider's 1,600-character limit on every
path a body is written, the poll that answers 204, keyset pages (#16), filters, read/unread,
canned replies, the contact panel, and names that cannot grow without limit."""

import re

import pytest
from django.db import DataError, IntegrityError, transaction
from django.urls import reverse

from messaging import inbox, services, sms
from messaging.automations.forms import StepForm
from messaging.forms import ContactForm
from messaging.models import CannedReply, Contact, Message, Source
from messaging.views.bulk import BulkForm
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
TOO_LONG = "the phone provider accepts at most 1,600"


def thread_url(world, contact=None, query=""):
    return reverse("conversation", args=[world.a1.pk, (contact or world.a1_contact).pk]) + query


def list_url(world, query=""):
    return reverse("conversation_list", args=[world.a1.pk]) + query


def inbound(client, world, body, sid, phone=None):
    post_signed(
        client,
        "/webhooks/twilio/inbound",
        {"MessageSid": sid, "From": phone or world.a1_contact.phone, "To": "+16465550101", "Body": body},
    )


# --- The list shows what was sent -----------------------------------------------------------


def test_list_shows_the_text_as_sent_after_a_bulk_send_not_the_template(world, login):
    """Bug: "Latest" read `Hi {first_name}, … {business_name}!` after a bulk send."""
    ben = Contact.objects.create(sub_account=world.a1, phone="+12125550199", first_name="Ben")
    services.messages_send(
        sub_account=world.a1, contacts=[world.a1_contact, ben],
        body="Hi {first_name}, spring cleaning at {business_name}!", source=Source.BULK,
    )  # fmt: skip
    page = login(world.a1_user).get(list_url(world)).content.decode()
    assert "{first_name}" not in page and "{business_name}" not in page
    assert "Hi Ava, spring cleaning at Sunrise Dental Care!" in page
    assert "Hi Ben, spring cleaning at Sunrise Dental Care!" in page
    assert Contact.objects.get(pk=ben.pk).last_message_preview.startswith("Hi Ben, spring")


def test_list_marks_direction_of_the_last_message(client, world, login):
    world.message_of(world.a1_contact, status="sent", failure_reason="")
    Contact.objects.filter(pk=world.a1_contact.pk).update(last_message_at="2026-01-01T00:00Z")
    page = login(world.a1_user).get(list_url(world)).content.decode()
    assert 'title="Sent by you"' in page
    inbound(client, world, "hello back", "SMdir")
    page = login(world.a1_user).get(list_url(world)).content.decode()
    assert 'title="Received"' in page and "hello back" in page


# --- 1,600 characters (Twilio 21617) everywhere ---------------------------------------------


def test_a_5000_character_one_to_one_is_refused_with_the_text_kept(world, login):
    """Bug: 5,000 characters were accepted and queued."""
    body = "x" * 5000
    response = login(world.a1_user).post(
        reverse("conversation_send", args=[world.a1.pk, world.a1_contact.pk]), {"body": body}, headers=HTMX
    )
    html = response.content.decode()
    assert "5,000 characters" in html and TOO_LONG in html
    assert body in html  # nothing typed is lost
    assert not Message.objects.exists()


def test_without_js_the_refusal_is_shown_and_the_text_kept(world, login):
    client = login(world.a1_user)
    response = client.post(
        reverse("conversation_send", args=[world.a1.pk, world.a1_contact.pk]), {"body": "y" * 1601}, follow=True
    )
    html = response.content.decode()
    assert TOO_LONG in html and "y" * 1601 in html
    assert not Message.objects.exists()


def test_exactly_1600_characters_is_accepted(world, login):
    Contact.objects.filter(pk=world.a1_contact.pk).update(has_texted_in=True)  # no opt-out text appended (R5)
    login(world.a1_user).post(
        reverse("conversation_send", args=[world.a1.pk, world.a1_contact.pk]), {"body": "z" * 1600}, headers=HTMX
    )
    assert Message.objects.get().status == "queued"


def test_the_composed_body_counts_opt_out_text_included(world):
    """R5: the first one-to-one text to a contact who never texted gets the opt-out text; the
    provider counts the body as sent, so 1,590 typed characters are too many then."""
    with pytest.raises(services.MessagingError, match="With the opt-out and sender text added"):
        services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="a" * 1590, source="one_to_one")
    assert not Message.objects.exists()


def test_bulk_recipients_over_the_limit_as_composed_fail_with_the_reason(world):
    """Merge fields make one recipient's text longer than another's: only that one fails."""
    long_name = Contact.objects.create(sub_account=world.a1, phone="+12125550198", first_name="B" * 100)
    body = "{first_name} " + "b" * 1540
    messages = services.messages_send(
        sub_account=world.a1, contacts=[world.a1_contact, long_name], body=body, source=Source.ONE_TO_ONE
    )
    by_contact = {m.contact_id: m for m in messages}
    assert by_contact[world.a1_contact.pk].status == "queued"
    assert by_contact[long_name.pk].status == "failed" and TOO_LONG in by_contact[long_name.pk].failure_reason


def test_bulk_form_and_workflow_step_refuse_over_1600_with_the_same_sentence(world):
    bulk = BulkForm({"body": "c" * 1700, "audience": "all", "sender": "+16465550101", "when": "now"},
                    sub_account=world.a1)  # fmt: skip
    assert not bulk.is_valid() and sms.too_long("c" * 1700) in bulk.errors["body"]
    step = StepForm({"kind": "send_sms", "body": "c" * 1700}, sub_account=world.a1)
    assert not step.is_valid() and sms.too_long("c" * 1700) in str(step.errors)


def test_bulk_live_preview_shows_the_limit_as_sent(world, login):
    response = login(world.a1_owner).post(reverse("bulk_count", args=[world.a1.pk]), {"body": "d" * 1590})
    assert "With the opt-out and sender text added" in response.content.decode()


def test_api_refuses_over_1600_with_the_sentence(world, client):
    from messaging.keys import api_key_create

    _, key = api_key_create(sub_account=world.a1, name="t", user=None)
    response = client.post(
        "/api/v1/messages", {"to": "+12125550100", "body": "e" * 1601, "source": "one_to_one"},
        content_type="application/json", headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert response.status_code == 400 and TOO_LONG in response.json()["error"]
    response = client.post(  # 1,590 typed + the opt-out text of a first one-to-one text (R5)
        "/api/v1/messages", {"to": "+12125550100", "body": "e" * 1590, "source": "one_to_one"},
        content_type="application/json", headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "refused")
    assert "With the opt-out and sender text added" in response.json()["error"]
    assert not Message.objects.exists()


def test_every_body_box_has_the_live_counter(world, login):
    client = login(world.a1_owner)
    for url in (
        thread_url(world),
        reverse("bulk_index", args=[world.a1.pk]),
        reverse("canned_replies", args=[world.a1.pk]),
    ):
        html = client.get(url).content.decode()
        assert "data-sms-counter" in html and "js/sms_counter.js" in html, url


# --- Names ----------------------------------------------------------------------------------


def test_a_300_character_last_name_is_refused_with_a_clear_error(world):
    form = ContactForm({"phone": "+12125550177", "last_name": "L" * 300}, sub_account=world.a1)
    assert not form.is_valid()
    assert form.errors["last_name"] == ["Names have at most 100 characters; this one has 300."]


def test_the_database_refuses_a_name_over_the_limit_on_every_backend(world):
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():  # CHECK on SQLite, varchar on PostgreSQL
        Contact.objects.create(sub_account=world.a1, phone="+12125550176", last_name="L" * 101)


# --- The poll -------------------------------------------------------------------------------


def poll_url(html):
    return re.search(r'id="poll" hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")


def test_poll_answers_204_until_an_inbound_text_arrives_then_the_thread_and_list(client, world, login):
    user = login(world.a1_user)
    inbound(client, world, "first", "SMp1")
    html = user.get(thread_url(world)).content.decode()
    url = poll_url(html)
    assert user.get(url, headers=HTMX).status_code == 204
    inbound(client, world, "Are you open Saturday?", "SMp2")
    response = user.get(url, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="messages" hx-swap-oob="true"' in html and "Are you open Saturday?" in html
    assert 'id="threads" hx-swap-oob="true"' in html
    assert Contact.objects.get(pk=world.a1_contact.pk).unread_count == 0  # open on screen: read
    assert user.get(poll_url(html), headers=HTMX).status_code == 204  # the new stamps


def test_list_poll_reports_a_new_thread(client, world, login):
    user = login(world.a1_user)
    url = poll_url(user.get(list_url(world)).content.decode())
    assert user.get(url, headers=HTMX).status_code == 204
    inbound(client, world, "new person here", "SMp3", phone="+12125550155")
    html = user.get(url, headers=HTMX).content.decode()
    assert "new person here" in html and "1 new" in html and 'id="messages"' not in html


def test_a_poll_with_nothing_new_costs_a_few_queries_whatever_the_number_of_threads(
    world, login, django_assert_max_num_queries
):
    make_threads(world, 60)
    user = login(world.a1_user)
    url = poll_url(user.get(thread_url(world)).content.decode())
    with django_assert_max_num_queries(8):  # session, user, sub-account, page of threads, thread stamp
        assert user.get(url, headers=HTMX).status_code == 204


def test_poll_of_another_tenants_contact_shows_nothing_of_it(world, login):
    url = reverse("conversation_poll", args=[world.a1.pk]) + f"?c={world.b1_contact.pk}&ts=x&ls=x"
    html = login(world.a1_user).get(url, headers=HTMX).content.decode()
    assert 'id="messages"' not in html and "Ben" not in html
    assert login(world.a1_user).get(reverse("conversation_poll", args=[world.b1.pk])).status_code == 404


# --- Keyset pages, filters, read/unread -----------------------------------------------------


def make_threads(world, n):
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    contacts = [
        Contact(
            sub_account=world.a1,
            phone=f"+1212556{i:04d}",
            first_name=f"C{i:03d}",
            last_message_at=now - dt.timedelta(minutes=i // 2),
            last_message_preview=f"msg {i}",
        )
        for i in range(n)
    ]  # fmt: skip  (pairs share a timestamp: the id breaks ties)
    Contact.objects.bulk_create(contacts)
    return now


def test_keyset_pages_cover_every_thread_once_and_stay_stable_under_inserts(world):
    now = make_threads(world, 120)
    threads = world.a1.contacts.conversations()
    first = inbox.thread_page(threads)
    assert len(first.threads) == 50 and first.older and not first.newer
    # A new message moves a thread of page 3 to the top meanwhile: page 2 is unchanged.
    moved = inbox.thread_page(threads, after=inbox.thread_page(threads, after=first.older).older).threads[0]
    Contact.objects.filter(pk=moved.pk).update(last_message_at=now)
    second = inbox.thread_page(threads, after=first.older)
    third = inbox.thread_page(threads, after=second.older)
    assert not third.older and second.newer
    seen = [c.pk for page in (first, second, third) for c in page.threads]
    assert len(seen) == len(set(seen))
    assert len(seen) == 119  # the moved one is now before page 1, not read twice
    # Back from page 2: the 50 threads just above it, now the old page 1 and the moved one.
    back = inbox.thread_page(threads, before=second.newer)
    above = inbox.thread_page(threads, size=51).threads
    assert [c.pk for c in back.threads] == [c.pk for c in above[1:]] and back.newer


def test_a_garbled_cursor_is_the_first_page(world, login):
    make_threads(world, 3)
    assert login(world.a1_user).get(list_url(world, "?after=nonsense")).status_code == 200
    assert len(inbox.thread_page(world.a1.contacts.conversations(), after="1.zz").threads) == 3


def test_filters_unread_and_opted_out_and_search(client, world, login):
    make_threads(world, 3)
    inbound(client, world, "hi", "SMf1")
    Contact.objects.filter(first_name="C001").update(consent="revoked", dnd="permanent")
    user = login(world.a1_user)
    unread = user.get(list_url(world, "?show=unread")).content.decode()
    assert "Ava" in unread and "C000" not in unread
    opted = user.get(list_url(world, "?show=opted_out")).content.decode()
    assert "C001" in opted and "Ava" not in opted and "Opted out" in opted
    found = user.get(list_url(world, "?q=C002")).content.decode()
    assert "C002" in found and "C000" not in found


def test_opening_drops_the_unread_count_and_mark_as_unread_restores_it(client, world, login):
    inbound(client, world, "ping", "SMr1")
    user = login(world.a1_user)
    assert "1 new" in user.get(list_url(world)).content.decode()
    assert "1 new" not in user.get(thread_url(world)).content.decode()
    response = user.post(reverse("conversation_read", args=[world.a1.pk, world.a1_contact.pk]), {"unread": "1"})
    assert response.status_code == 302 and response.url == list_url(world)
    assert Contact.objects.get(pk=world.a1_contact.pk).unread_count == 1


def test_the_contact_panel_shows_dnd_consent_tags_and_workflows(world, login):
    from django.utils import timezone

    from messaging.automations.models import Enrollment, Workflow
    from messaging.models import Tag

    world.a1_contact.tags.add(Tag.objects.create(sub_account=world.a1, name="vip"))
    workflow = Workflow.objects.create(sub_account=world.a1, name="Welcome series", trigger="api", status="paused")
    Enrollment.objects.create(sub_account=world.a1, workflow=workflow, contact=world.a1_contact, trigger="t",
                              enrolled_at=timezone.now())  # fmt: skip
    html = login(world.a1_user).get(thread_url(world)).content.decode()
    panel = html[html.index('data-testid="contact-panel"') :]
    assert "vip" in panel and "Welcome series" in panel and "No consent on record" in panel and "None" in panel


# --- Canned replies -------------------------------------------------------------------------


def test_canned_replies_are_added_edited_picked_and_deleted(world, login):
    user = login(world.a1_user)
    url = reverse("canned_replies", args=[world.a1.pk])
    assert user.post(url, {"new-title": "Hours", "new-body": "We are open 9–5, {first_name}."}).status_code == 302
    reply = CannedReply.objects.get(sub_account=world.a1)
    assert user.post(url, {"new-title": "Hours", "new-body": "again"}).status_code == 400  # unique title
    assert user.post(url, {"new-title": "Long", "new-body": "f" * 1601}).status_code == 400
    edit = reverse("canned_reply_edit", args=[world.a1.pk, reply.pk])
    user.post(edit, {f"{reply.pk}-title": "Hours", f"{reply.pk}-body": "Open 9–5."})
    html = user.get(thread_url(world)).content.decode()
    assert 'data-testid="canned-reply"' in html
    picked = user.get(thread_url(world, query=f"?reply={reply.pk}")).content.decode()
    assert ">Open 9–5.</textarea>" in picked
    user.post(edit, {"delete": "1"})
    assert not CannedReply.objects.exists()


def test_another_tenants_canned_reply_is_not_picked(world, login):
    theirs = CannedReply.objects.create(sub_account=world.b1, title="Secret", body="Their text")
    html = login(world.a1_user).get(thread_url(world, query=f"?reply={theirs.pk}")).content.decode()
    assert "Their text" not in html
