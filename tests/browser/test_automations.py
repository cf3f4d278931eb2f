"""In the browser: build a two-step workflow (send, wait 1 minute, send), trigger it by adding a tag
to a contact, and see both messages in the conversation under the carrier simulator; schedule a
campaign and pause it (nothing goes at its time), then resume it."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging import dispatch
from messaging.automations.models import Enrollment
from messaging.automations.pausing import PAUSED_UNTIL
from messaging.automations.runner import enrollments_step_due
from messaging.models import BulkSend, Contact, Message
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def owner_page(page, live_server, demo_data, settings):
    settings.PUBLIC_BASE_URL = live_server.url  # the simulator posts its receipts here
    settings.SMS_BACKEND = "simulator"
    log_in(page, live_server.url, "owner@sunrise.test")
    return page


def test_build_a_two_step_workflow_trigger_it_with_a_tag_and_see_both_messages(owner_page, live_server, run_jobs):
    page = owner_page
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/")
    page.get_by_role("link", name="Automations").click()
    page.get_by_role("link", name="New workflow").click()
    page.get_by_label("Name").fill("VIP welcome")
    page.get_by_label("Trigger").select_option(label="Tag added")
    page.get_by_label("Tag", exact=True).fill("vip-browser")
    page.get_by_role("button", name="Create and add steps").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Build “VIP welcome”")

    # Step 1: the composed text and its segments appear as it is typed (htmx).
    adder = page.get_by_test_id("add-send_sms")
    adder.get_by_label("Message").press_sequentially("Welcome to the VIP list, {first_name}!")
    expect(adder.get_by_test_id("composed-text")).to_contain_text("Welcome to the VIP list, ")
    expect(adder.get_by_test_id("compose-count")).to_contain_text("1 segment")
    adder.get_by_role("button", name="Add “Send SMS”").click()
    # Step 2: wait 1 minute. Step 3: another text.
    waiter = page.get_by_test_id("add-wait")
    waiter.get_by_label("Wait for").fill("1")
    waiter.get_by_role("button", name="Add “Wait”").click()
    adder = page.get_by_test_id("add-send_sms")
    adder.get_by_label("Message").fill("How did your first VIP visit go?")
    adder.get_by_role("button", name="Add “Send SMS”").click()
    steps = page.get_by_test_id("step")
    expect(steps).to_have_count(3)
    expect(steps.nth(1)).to_contain_text("2. Wait 1 minute")
    page.get_by_role("link", name="Done: to the workflow's page").click()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_test_id("status").first).to_have_text("Active")

    # Adding the tag to a contact enrolls them.
    contact = Contact.objects.filter(sub_account=sunrise, consent="granted", dnd="none").order_by("phone").first()
    page.goto(f"{live_server.url}/s/{sunrise.pk}/contacts/{contact.pk}/edit/")
    tags = page.get_by_label("Tags")
    tags.fill(", ".join(filter(None, [tags.input_value(), "vip-browser"])))
    page.get_by_role("button", name=re.compile("Save")).click()
    assert Enrollment.objects.get(workflow__name="VIP welcome").contact_id == contact.pk

    run_jobs()  # the worker: the step job sends step 1, dispatch hands it to the simulator
    page.goto(f"{live_server.url}/s/{sunrise.pk}/conversations/{contact.pk}/")
    bubbles = page.locator(".bubble.outbound")
    expect(bubbles.last).to_contain_text(f"Welcome to the VIP list, {contact.first_name}!")
    expect(page.locator(".bubble.outbound", has_text="How did your first VIP visit go?")).to_have_count(0)

    with time_machine.travel(timezone.now() + timedelta(minutes=1, seconds=1)):
        enrollments_step_due()  # the cron scheduler's run a minute later: the wait is over
        run_jobs()
    page.reload()
    expect(page.locator(".bubble.outbound", has_text="How did your first VIP visit go?")).to_have_count(1)
    expect(bubbles.filter(has_text="Welcome to the VIP list")).to_have_count(1)
    assert Enrollment.objects.get(workflow__name="VIP welcome").status == "completed"
    assert set(Message.objects.filter(contact=contact, source="workflow").values_list("status", flat=True)) == {"sent"}

    page.goto(f"{live_server.url}/s/{sunrise.pk}/contacts/{contact.pk}/")
    expect(page.get_by_test_id("contact-enrollments")).to_contain_text("VIP welcome")


def test_schedule_a_campaign_then_pause_and_resume_it(owner_page, live_server, run_jobs):
    page = owner_page
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/bulk/")
    page.get_by_label("Message").fill("Spring checkups: book this week, {first_name}")
    page.get_by_label("All contacts").check()
    page.get_by_label("Schedule for later").check()
    page.get_by_label("Send at").fill("2099-06-01T09:30")
    page.get_by_label("Campaign name").fill("Spring checkups")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm and send").click()
    expect(page.get_by_test_id("state")).to_have_text("Scheduled")

    page.get_by_role("link", name="Automations").click()
    page.get_by_role("link", name="All campaigns").click()
    row = page.get_by_test_id("campaign-row").filter(has_text="Spring checkups")
    expect(row.get_by_test_id("status")).to_have_text("Scheduled")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator(".messages")).to_contain_text("Paused: nothing more is handed to the carrier")
    row = page.get_by_test_id("campaign-row").filter(has_text="Spring checkups")
    expect(row.get_by_test_id("status")).to_have_text("Paused")
    campaign = BulkSend.objects.get(name="Spring checkups")
    assert set(campaign.messages.filter(status="queued").values_list("send_after", flat=True)) == {PAUSED_UNTIL}

    with time_machine.travel(campaign.scheduled_for + timedelta(minutes=1)):
        dispatch.sweep()  # its time has come: a paused campaign sends nothing
        run_jobs()
    assert not campaign.messages.filter(status="sent").exists()

    row.get_by_role("button", name="Resume").click()
    row = page.get_by_test_id("campaign-row").filter(has_text="Spring checkups")
    expect(row.get_by_test_id("status")).to_have_text("Scheduled")
    assert set(campaign.messages.filter(status="queued").values_list("send_after", flat=True)) == {
        campaign.scheduled_for
    }
    row.get_by_role("link", name="Spring checkups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Spring checkups")
