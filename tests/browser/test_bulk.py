"""In the browser: compose a bulk SMS with the live segment count and composed preview,
preview the counts, confirm, and watch the progress bar reach the report without a reload."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging.models import BulkSend, Message
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def owner_page(page, live_server, demo_data, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    log_in(page, live_server.url, "owner@sunrise.test")
    return page


def test_compose_preview_confirm_and_watch_progress(owner_page, live_server, run_jobs):
    page = owner_page
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/")
    page.get_by_role("link", name="Bulk SMS").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk SMS")

    page.get_by_label("Message").press_sequentially("Hi {first_name}, spring cleaning appointments are open €")
    expect(page.get_by_test_id("segment-count")).to_contain_text("GSM-7")
    expect(page.get_by_test_id("segment-count")).to_contain_text("1 segment")
    expect(page.get_by_test_id("composed-initial")).to_contain_text(
        "spring cleaning appointments are open €\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe"
    )
    expect(page.get_by_test_id("composed-follow-up")).not_to_contain_text("Reply STOP")

    # All contacts: 100, of which 90 consented; 3 of the 10 others are in DND (R1, R3: the demo's
    # history), counted first (R2); level 1 allows 100, so no ramp sentence (R7).
    before = Message.objects.filter(sub_account=sunrise).count()
    page.get_by_label("All contacts").check()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm bulk send")
    expect(page.get_by_test_id("total")).to_have_text("100")
    expect(page.get_by_test_id("will-send")).to_have_text("90")
    expect(page.get_by_test_id("skip-dnd")).to_have_text("3")
    expect(page.get_by_test_id("skip-consent")).to_have_text("7")
    expect(page.get_by_test_id("ramp-sentence")).to_have_count(0)
    assert Message.objects.filter(sub_account=sunrise).count() == before  # nothing is sent by the preview

    page.get_by_role("button", name="Confirm and send").click()
    expect(page).to_have_url(re.compile(r"/bulk/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("r-total")).to_have_text("100")
    expect(page.locator("#progress")).to_have_attribute("hx-trigger", "every 2s")
    expect(page.get_by_test_id("r-sent")).to_have_text("0")

    run_jobs()  # the RQ worker hands the 90 queued messages to the provider
    expect(page.get_by_test_id("r-sent")).to_have_text("90")
    expect(page.get_by_test_id("state")).to_have_text("Done")
    expect(page.locator("#progress")).not_to_have_attribute("hx-trigger", "every 2s")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_test_id("by-reason")).to_contain_text("No consent on record")
    assert BulkSend.objects.get(sub_account=sunrise, scheduled_for=None).status == "done"


def test_segment_count_follows_a_paste_not_only_typing(owner_page, live_server):
    """Paste, autofill and drag-drop fire `input` but no `keyup`: the count updated only on keyup
    and stayed at 0 (issue 15). `fill` sets the value with an `input` event and no key events."""
    page = owner_page
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/bulk/")
    page.get_by_label("Message").fill("x" * 200)  # 200 GSM-7 characters: 2 segments
    expect(page.get_by_test_id("segment-count")).to_contain_text("2 segments")
