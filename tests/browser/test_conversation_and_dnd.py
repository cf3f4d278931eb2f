"""In the browser: send from a conversation and watch the message turn delivered without a
reload; clear a temporary DND; see that a permanent DND cannot be cleared; see the refusal."""

import pytest
import requests
from django.conf import settings
from playwright.sync_api import expect

from messaging.models import Contact, Message
from messaging.providers.base import sign
from messaging.providers.memory import AUTH_TOKEN
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def owner_page(page, live_server, demo_data, settings):
    settings.PUBLIC_BASE_URL = live_server.url  # receipts are signed for the URL they reach
    log_in(page, live_server.url, "owner@sunrise.test")
    return page


def sunrise_contact(**state):
    contact = Contact.objects.filter(sub_account__name="Sunrise Dental", consent="granted").order_by("phone").first()
    if state:
        Contact.objects.filter(pk=contact.pk).update(**state)
    return contact


def receipt(live_server, sid, status):
    params = {"MessageSid": sid, "MessageStatus": status}
    url = settings.PUBLIC_BASE_URL + "/webhooks/twilio/status"
    response = requests.post(
        url, data=params, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, params)}, timeout=10
    )
    assert response.status_code == 200


def test_send_from_conversation_and_watch_it_turn_delivered(owner_page, live_server, run_jobs):
    contact = sunrise_contact()
    page = owner_page
    page.goto(f"{live_server.url}/s/{contact.sub_account_id}/conversations/{contact.pk}/")
    page.get_by_label("Message").fill("Your cleaning is booked for Tuesday at 10.")
    page.get_by_role("button", name="Send").click()
    bubble = page.locator(".bubble.outbound").last
    expect(bubble).to_contain_text("Your cleaning is booked for Tuesday at 10.")
    expect(bubble.get_by_test_id("status")).to_have_text("queued")
    expect(page.get_by_label("Message")).to_have_value("")

    run_jobs()  # the RQ worker hands it to the provider
    expect(page.locator(".bubble.outbound").last.get_by_test_id("status")).to_have_text("sent")
    receipt(live_server, Message.objects.get(contact=contact).provider_sid, "delivered")
    expect(page.locator(".bubble.outbound").last.get_by_test_id("status")).to_have_text("delivered")


def test_conversation_shows_the_dnd_refusal(owner_page, live_server):
    contact = sunrise_contact(dnd="permanent")
    page = owner_page
    page.goto(f"{live_server.url}/s/{contact.sub_account_id}/conversations/{contact.pk}/")
    page.get_by_label("Message").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("send-error")).to_have_text("Cannot send messages as DND is active for SMS.")
    expect(page.get_by_label("Message")).to_have_value("Hello?")


def test_temporary_dnd_can_be_cleared_permanent_cannot(owner_page, live_server):
    page = owner_page
    temporary = sunrise_contact(dnd="temporary")
    page.goto(f"{live_server.url}/s/{temporary.sub_account_id}/contacts/{temporary.pk}/")
    expect(page.get_by_test_id("dnd-state")).to_have_text("Temporary")
    page.get_by_role("button", name="Remove temporary DND").click()
    expect(page.get_by_test_id("dnd-state")).to_have_text("None")
    expect(page.locator("#dnd")).to_contain_text("temporary → none")

    permanent = Contact.objects.filter(sub_account=temporary.sub_account).exclude(pk=temporary.pk).first()
    Contact.objects.filter(pk=permanent.pk).update(dnd="permanent")
    page.goto(f"{live_server.url}/s/{permanent.sub_account_id}/contacts/{permanent.pk}/")
    expect(page.get_by_test_id("dnd-state")).to_have_text("Permanent")
    expect(page.get_by_role("button", name="Remove temporary DND")).to_have_count(0)
    expect(page.get_by_test_id("dnd-permanent-note")).to_contain_text("Only the contact can lift it")
