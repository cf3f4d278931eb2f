"""In the browser (#15): the inbox. Open a thread from the list and see its unread count drop,
reply, see an inbound text arrive without a reload (a signed inbound webhook, as Twilio posts
it), the live character counter and the 1,600-character refusal, and a 390 px screen with a
5,000-character word that neither the bubble nor the page overflows."""

import pytest
import requests
from django.conf import settings
from playwright.sync_api import expect

from messaging.models import Contact, PhoneNumber
from messaging.providers.base import sign
from messaging.providers.memory import AUTH_TOKEN
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def owner_page(page, live_server, demo_data, settings):
    settings.PUBLIC_BASE_URL = live_server.url  # webhooks are signed for the URL they reach
    log_in(page, live_server.url, "owner@sunrise.test")
    return page


def sunrise_contact():
    return Contact.objects.filter(sub_account__name="Sunrise Dental", dnd="none").order_by("phone").first()


def inbound_text(contact, body, sid):
    params = {
        "MessageSid": sid, "From": contact.phone, "Body": body,
        "To": PhoneNumber.objects.filter(sub_account_id=contact.sub_account_id).first().number,
    }  # fmt: skip
    url = settings.PUBLIC_BASE_URL + "/webhooks/twilio/inbound"
    response = requests.post(
        url, data=params, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, params)}, timeout=10
    )
    assert response.status_code == 200


def test_open_a_thread_reply_and_see_an_inbound_text_arrive_without_reload(owner_page, live_server):
    contact = sunrise_contact()
    inbound_text(contact, "Can I move my appointment?", "SMbrowser1")
    page = owner_page
    page.goto(f"{live_server.url}/s/{contact.sub_account_id}/conversations/")
    row = page.locator(f'[data-testid="thread"][data-contact="{contact.pk}"]')
    expect(row.get_by_test_id("unread")).to_have_text("1 new")
    expect(row.get_by_test_id("preview")).to_contain_text("Can I move my appointment?")

    row.get_by_role("link").click()
    expect(page.locator(".bubble.inbound").last).to_contain_text("Can I move my appointment?")
    expect(row.get_by_test_id("unread")).to_have_count(0)  # opened: read
    expect(page.get_by_test_id("contact-panel")).to_contain_text("DND")

    page.get_by_label("Message").fill("Of course: Thursday at 3 works?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".bubble.outbound").last).to_contain_text("Of course: Thursday at 3 works?")
    expect(page.get_by_label("Message")).to_have_value("")

    page.evaluate("window.notReloaded = true")
    inbound_text(contact, "Thursday at 3 is perfect", "SMbrowser2")
    expect(page.locator(".bubble.inbound").last).to_contain_text("Thursday at 3 is perfect", timeout=10_000)
    expect(row.get_by_test_id("preview")).to_contain_text("Thursday at 3 is perfect")
    assert page.evaluate("window.notReloaded") is True
    expect(row.get_by_test_id("unread")).to_have_count(0)  # it arrived in the open thread


def test_the_counter_counts_live_and_1600_characters_are_refused(owner_page, live_server):
    contact = sunrise_contact()
    page = owner_page
    page.goto(f"{live_server.url}/s/{contact.sub_account_id}/conversations/{contact.pk}/")
    box = page.get_by_label("Message")
    box.fill("Hello")
    expect(page.get_by_test_id("sms-counter")).to_have_text("5 / 1,600 characters · 1 segment (GSM-7)")
    box.fill("é" * 10 + "😀")  # é is GSM-7; the emoji makes it UCS-2
    expect(page.get_by_test_id("sms-counter")).to_contain_text("11 / 1,600 characters · 1 segment (UCS-2)")
    text = "x" * 1601
    box.fill(text)
    counter = page.get_by_test_id("sms-counter")
    expect(counter).to_contain_text("1,601 / 1,600 characters")
    expect(counter).to_contain_text("1 too many")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("send-error")).to_contain_text("the phone provider accepts at most 1,600")
    expect(page.get_by_label("Message")).to_have_value(text)  # nothing typed is lost
    expect(page.get_by_test_id("sms-counter")).to_contain_text("1,601 / 1,600")  # swapped-in box counted too


def test_a_phone_screen_with_a_5000_character_word_does_not_overflow(owner_page, live_server):
    contact = sunrise_contact()
    inbound_text(contact, "w" * 5000, "SMbrowser3")
    page = owner_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/s/{contact.sub_account_id}/conversations/{contact.pk}/")
    bubble = page.locator(".bubble.inbound").last
    expect(bubble).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = bubble.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(page.get_by_role("link", name="← Conversations")).to_be_visible()  # one pane at a time
    expect(page.locator(".inbox-list")).to_be_hidden()
    page.get_by_role("link", name="← Conversations").click()
    expect(page.locator(".inbox-list")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
