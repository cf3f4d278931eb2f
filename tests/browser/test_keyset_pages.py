"""In the browser (issue 16): a long conversation read back with "Show older messages" (loaded
in place above the thread), a bulk send's recipients paged to the last page and filtered by
status, and a contact search whose list shows first and whose match count follows."""

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging import inbox
from messaging.models import BulkSend, Contact, Message
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def sunrise(page, live_server, demo_data):
    log_in(page, live_server.url, "owner@sunrise.test")
    return SubAccount.objects.get(name="Sunrise Dental")


def test_show_older_messages_back_to_the_first(page, live_server, sunrise):
    contact = Contact.objects.create(sub_account=sunrise, phone="+12125557777", first_name="Longthread")
    n = 2 * inbox.THREAD_LENGTH + 10
    Message.objects.bulk_create(
        Message(sub_account=sunrise, contact=contact, direction="inbound", source="inbound", status="received",
                body=f"Text number {i}")
        for i in range(n)
    )  # fmt: skip
    ordered = list(contact.messages.order_by("created_at", "id").values_list("body", flat=True))
    page.goto(f"{live_server.url}/s/{sunrise.pk}/conversations/{contact.pk}/")
    bubbles = page.locator(".thread .bubble")
    expect(bubbles).to_have_count(inbox.THREAD_LENGTH)
    page.get_by_test_id("older").click()
    expect(bubbles).to_have_count(2 * inbox.THREAD_LENGTH)
    page.get_by_test_id("older").click()
    expect(bubbles).to_have_count(n)
    expect(page.get_by_test_id("older")).to_have_count(0)
    expect(bubbles.first).to_contain_text(ordered[0])
    expect(bubbles.last).to_contain_text(ordered[-1])
    assert page.url.endswith(f"/conversations/{contact.pk}/")  # the thread stays where it was


def test_recipients_paged_and_filtered(page, live_server, sunrise):
    send = BulkSend.objects.create(sub_account=sunrise, body="Hi", audience="All contacts", status="done")
    contacts = Contact.objects.bulk_create(
        [Contact(sub_account=sunrise, phone=f"+1718555{i:04}", first_name=f"R{i}") for i in range(120)]
    )
    Message.objects.bulk_create(
        Message(sub_account=sunrise, contact=c, bulk_send=send, direction="outbound", source="bulk",
                status="failed" if i % 10 == 0 else "delivered", body="Hi", to_number=c.phone,
                failure_reason="Recipient opted out" if i % 10 == 0 else "")
        for i, c in enumerate(contacts)
    )  # fmt: skip
    last_phone = send.messages.order_by("created_at", "id").last().to_number
    page.goto(f"{live_server.url}/s/{sunrise.pk}/bulk/{send.pk}/")
    rows = page.get_by_test_id("recipient")
    expect(rows).to_have_count(50)
    page.get_by_test_id("recipients").get_by_role("link", name="Last »").click()
    expect(rows).to_have_count(50)
    expect(rows.last).to_contain_text(last_phone)
    page.get_by_test_id("recipient-filter").get_by_role("link", name="Failed").click()
    expect(rows).to_have_count(12)
    expect(rows.first).to_contain_text("Recipient opted out")


def test_search_shows_the_list_then_the_count(page, live_server, sunrise):
    Contact.objects.bulk_create(
        [Contact(sub_account=sunrise, phone=f"+1917555{i:04}", last_name="Quimbyfield") for i in range(70)]
    )
    page.goto(f"{live_server.url}/s/{sunrise.pk}/contacts/")
    page.get_by_label("Search").fill("Quimbyfield")
    expect(page.get_by_test_id("matching")).to_contain_text(f"70 of {sunrise.contacts.count()} match these filters.")
    expect(page.get_by_test_id("contact-results").locator("tbody tr")).to_have_count(50)
