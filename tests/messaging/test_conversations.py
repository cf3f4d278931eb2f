"""Conversations: thread list by activity with unread marks, a thread that refreshes itself,
the send box with inline refusals (exact POLICY texts), resend, and phone-number settings."""

import pytest
from django.urls import reverse

from messaging.models import Contact, Message, Status
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def thread_url(world, contact=None):
    return reverse("conversation", args=[world.a1.pk, (contact or world.a1_contact).pk])


def send_url(world, contact=None):
    return reverse("conversation_send", args=[world.a1.pk, (contact or world.a1_contact).pk])


def test_threads_are_listed_by_latest_activity_with_unread_marks(client, world, login):
    for i, (frm, body) in enumerate([("+12125550701", "first"), ("+12125550702", "second")]):
        post_signed(
            client,
            "/webhooks/twilio/inbound",
            {"MessageSid": f"SMi{i}", "From": frm, "To": "+16465550101", "Body": body},
        )
    page = login(world.a1_user).get(reverse("conversation_list", args=[world.a1.pk])).content.decode()
    assert page.index("second") < page.index("first")
    assert "1 new" in page


def test_opening_a_thread_marks_it_read(client, world, login):
    post_signed(
        client,
        "/webhooks/twilio/inbound",
        {"MessageSid": "SMx", "From": world.a1_contact.phone, "To": "+16465550101", "Body": "yo"},
    )
    assert Contact.objects.get(pk=world.a1_contact.pk).unread_count == 1
    assert login(world.a1_user).get(thread_url(world)).status_code == 200
    assert Contact.objects.get(pk=world.a1_contact.pk).unread_count == 0


def test_thread_partial_for_polling(world, login):
    world.message_of(world.a1_contact, status="sent", body="Polled body", failure_reason="")
    response = login(world.a1_user).get(thread_url(world), headers=HTMX)
    html = response.content.decode()
    assert 'id="messages"' in html and "Polled body" in html and "<html" not in html
    page = login(world.a1_user).get(thread_url(world)).content.decode()
    assert 'id="poll"' in page and 'hx-trigger="every 3s"' in page  # one poll per tab (test_inbox.py)


def test_send_from_conversation_queues_one_to_one(world, login):
    response = login(world.a1_user).post(send_url(world), {"body": "Hello Ava"}, headers=HTMX)
    assert response.status_code == 200
    message = Message.objects.get(body="Hello Ava")
    assert (message.source, message.status, message.created_by) == ("one_to_one", "queued", world.a1_user)
    assert 'id="sendbox"' in response.content.decode() and "Hello Ava" in response.content.decode()


def test_dnd_refusal_is_shown_inline_with_the_exact_text_and_the_text_is_kept(world, login):
    """R2: one-to-one to a DND contact is refused with exactly the POLICY sentence."""
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="temporary")
    response = login(world.a1_user).post(send_url(world), {"body": "Are you there?"}, headers=HTMX)
    html = response.content.decode()
    assert (
        '<p class="error-text" role="alert" data-testid="send-error">Cannot send messages as DND is active for SMS.</p>'
        in html
    )
    assert ">Are you there?</textarea>" in html
    assert Message.objects.get(body="Are you there?").status == Status.FAILED


def test_send_without_htmx_redirects_back_with_the_refusal(world, login):
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent")
    client = login(world.a1_user)
    response = client.post(send_url(world), {"body": "Hi"}, follow=True)
    assert response.redirect_chain[-1][0] == thread_url(world)
    assert "Cannot send messages as DND is active for SMS." in response.content.decode()


def test_empty_message_is_refused_inline(world, login):
    html = login(world.a1_user).post(send_url(world), {"body": "   "}, headers=HTMX).content.decode()
    assert "The message is empty." in html and not Message.objects.exists()


def test_a_nul_in_the_message_is_refused_inline_and_the_text_kept(world, login):
    """PostgreSQL cannot store NUL: refused here, not a 500 that loses what was typed."""
    html = login(world.a1_user).post(send_url(world), {"body": "See you\x00 at 10"}, headers=HTMX).content.decode()
    assert "Text cannot contain NUL characters" in html and ">See you at 10</textarea>" in html
    assert not Message.objects.exists()


def test_resend_creates_a_new_message_with_source_resend(world, login):
    failed = world.message_of(world.a1_contact, status="failed", body="Try again", failure_reason="x")
    url = reverse("message_resend", args=[world.a1.pk, world.a1_contact.pk, failed.pk])
    assert login(world.a1_user).post(url).status_code == 302
    resent = Message.objects.exclude(pk=failed.pk).get()
    assert (resent.source, resent.status, resent.body) == ("resend", "queued", "Try again")


def test_resend_of_a_delivered_message_is_refused(world, login):
    delivered = world.message_of(world.a1_contact, status="delivered", failure_reason="")
    url = reverse("message_resend", args=[world.a1.pk, world.a1_contact.pk, delivered.pk])
    response = login(world.a1_user).post(url, follow=True)
    assert "Only failed or undelivered messages can be resent." in response.content.decode()
    assert Message.objects.count() == 1


def test_send_to_another_tenants_contact_is_404(world, login):
    url = reverse("conversation_send", args=[world.a1.pk, world.b1_contact.pk])
    assert login(world.a_admin).post(url, {"body": "x"}).status_code == 404
    assert not Message.objects.exists()
