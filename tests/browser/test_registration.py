"""In the browser (issue 17): Pine Bakery (demo data) has no carrier registration, so its
dashboard says what is missing and a bulk preview refuses its number; its agency admin fills in
the brand and campaign, submits, and the simulator's reviewer approves it."""

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


def test_register_for_10dlc_and_get_approved(page, live_server, demo_data, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SMS_BACKEND = "simulator"
    settings.SIMULATOR_REVIEW_SECONDS = 0
    settings.COMPLIANCE_POLICY = {"QUIET_SOURCES": []}  # registration required, as by default
    pine = SubAccount.objects.get(name="Pine Bakery")
    log_in(page, live_server.url, "admin@globex.test")

    page.goto(f"{live_server.url}/s/{pine.pk}/")
    missing = page.get_by_test_id("registration-missing")
    expect(missing).to_contain_text("A2P 10DLC (US local numbers) has not been started.")
    expect(missing).to_contain_text("texts from +14155550121 are refused until it is approved")

    page.goto(f"{live_server.url}/s/{pine.pk}/bulk/")
    page.get_by_label("Message").fill("Fresh sourdough today at Pine Street Bakery")
    page.get_by_label("All contacts").check()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("unregistered")).to_contain_text("+14155550121: This number is not registered")

    page.goto(f"{live_server.url}/s/{pine.pk}/")
    page.get_by_role("link", name="Complete the registration").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings · Carrier registration")
    page.get_by_label("Legal business name").fill("Pine Street Bakery Inc")
    page.get_by_label("Business website").fill("https://pinestreetbakery.com")
    page.get_by_label("Notification email").fill("admin@globex.test")
    page.get_by_label("What the messages are for").fill(
        "Daily specials and order-ready notices for our bakery customers."
    )
    page.get_by_label("How contacts opt in").fill(
        "Customers tick an unchecked box at checkout on our website to get texts."
    )
    page.get_by_label("Sample message 1").fill("Pine Street Bakery: your order is ready. Reply STOP to unsubscribe.")
    # A sample without the opt-out: kept as a draft, with the reason.
    page.get_by_label("Sample message 2").fill("Pine Street Bakery: fresh croissants until noon!")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Saved as a draft, not submitted")).to_be_visible()
    expect(page.get_by_text("Sample message 2 must say how to opt out")).to_be_visible()
    expect(page.get_by_test_id("registration-status")).to_contain_text("Draft")

    page.get_by_label("Sample message 2").fill(
        "Pine Street Bakery: fresh croissants until noon! Reply STOP to unsubscribe."
    )
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("registration-status")).to_contain_text("Submitted, in review")
    page.get_by_role("button", name="Check the review now").click()
    expect(page.get_by_test_id("registration-status")).to_contain_text("Approved")

    page.goto(f"{live_server.url}/s/{pine.pk}/")
    expect(page.get_by_test_id("registration-missing")).to_have_count(0)
